"""The terminal report of an experiment run: one rich table per measured section, warnings, provenance.

A table never cuts a cell: in a narrow terminal its headers wrap at spaces, and a table still too wide is
turned (rows as columns) or split into parts that each repeat its name columns, so every model name and
number shows whole."""

import textwrap

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perseus.experiments.results import ExperimentResults
from perseus.report import fmt, kinds
from perseus.report.table import Cell, TableData, Tone

_STYLE: dict[Tone, str] = {"good": "green", "bad": "bold red", "warn": "yellow", "dim": "dim"}
EDGE, PER_COLUMN = 1, 3  # a rich table's right border; each column's left border and padding
MAX_TRANSPOSED = 8  # rows that still read well as columns


def _markup(cell: Cell) -> str:
    text = escape(cell.text)
    return f"[{_STYLE[cell.tone]}]{text}[/]" if cell.tone is not None and text else text


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def column_widths(data: TableData, wrap_numbers: bool = False) -> list[tuple[int, int]]:
    """(narrowest, natural) width of each column's text. Headers may wrap at spaces; name cells too (a
    model name has none, so it stays whole); a number cell (`2 / 3`) only if `wrap_numbers`."""
    found = []
    for index, header in enumerate(data.columns):
        cells = [row[index].text for row in data.rows]
        natural = max([*(cell_len(line) for line in header.splitlines()), *(cell_len(t) for t in cells)])
        shrink = _longest_word if index < data.labels or wrap_numbers else cell_len
        found.append((max([_longest_word(header), *(shrink(t) for t in cells)]), natural))
    return found


def _width(columns: list[int], widths: list[tuple[int, int]]) -> int:
    return EDGE + sum(widths[c][0] + PER_COLUMN for c in columns)


def fits(data: TableData, width: int, wrap_numbers: bool = False) -> bool:
    widths = column_widths(data, wrap_numbers)
    return _width(list(range(len(data.columns))), widths) <= width


def transposed(data: TableData) -> TableData:
    """Rows as columns: each row's names head its column (`victim resnet50`, one per line), each number
    column becomes a row named by its header. A wide table of a few rows reads well this way."""
    names = data.columns[: data.labels]
    heads = [
        # One name column: its value heads the column; several: each as `name value`, one per line.
        row[0].text
        if len(names) == 1
        else "\n".join(f"{n} {c.text}" for n, c in zip(names, row, strict=False))
        for row in data.rows
    ]
    rows = [
        [Cell(header), *(row[index] for row in data.rows)]
        for index, header in enumerate(data.columns)
        if index >= data.labels
    ]
    return TableData(data.key, data.title, ["", *heads], rows, notes=data.notes, labels=1)


def column_groups(data: TableData, width: int) -> list[list[int]]:
    """The columns of each part: all in one when they fit `width`, else the name columns and about as many
    of the others in each part as the narrowest split allows. Name columns too wide to repeat beside every
    other column are shown once, like the others; the first is always repeated."""
    widths = column_widths(data)
    keep = min(data.labels, len(data.columns))
    widest = max((_width([c], widths) for c in range(keep, len(data.columns))), default=EDGE)
    while keep > 1 and _width(list(range(keep)), widths) + widest - EDGE > width:
        keep -= 1
    names = list(range(keep))
    rest = list(range(keep, len(data.columns)))
    groups = [list(names)]
    for column in rest:
        if groups[-1] != names and _width([*groups[-1], column], widths) > width:
            groups.append(list(names))
        groups[-1].append(column)
    # Greedy filling leaves a last part of one column; the same number of parts, evenly filled, reads
    # better when it fits.
    count = len(groups)
    sizes = [len(rest) // count + (1 if i < len(rest) % count else 0) for i in range(count)]
    starts = [sum(sizes[:i]) for i in range(count)]
    even = [names + rest[start : start + size] for start, size in zip(starts, sizes, strict=True)]
    return even if all(_width(g, widths) <= width for g in even) else groups


def layout(data: TableData, width: int) -> list[TableData]:
    """The table as it reads best in `width` columns: whole; transposed, when that fits and the rows have
    names to head columns with; or in parts (`(1/2)`, `(2/2)`), each repeating the name columns."""
    if fits(data, width) or not data.rows:
        return [data]
    if data.labels and len(data.rows) <= MAX_TRANSPOSED and fits(turned := transposed(data), width):
        return [turned]
    if fits(data, width, wrap_numbers=True):
        return [data]
    groups = column_groups(data, width)
    parts = []
    for number, columns in enumerate(groups, start=1):
        last = number == len(groups)
        parts.append(
            TableData(
                data.key,
                f"{data.title} ({number}/{len(groups)})",
                [data.columns[c] for c in columns],
                [[row[c] for c in columns] for row in data.rows],
                data.bold,
                data.notes if last else [],
                sum(1 for c in columns if c < data.labels),  # name columns lead every part
            )
        )
    return parts


def _lines(header: str, width: int) -> int:
    """How many lines a header takes `width` wide (rich wraps at spaces, as here)."""
    return sum(
        len(textwrap.wrap(line, width, break_on_hyphens=False)) or 1 for line in header.splitlines() or [""]
    )


def header_widths(data: TableData, width: int) -> list[int]:
    """Each column's width: the room beyond the narrowest widths goes to whole cells first (names, then
    numbers), then to making the tallest header as short as it can be, then to unwrapping the headers that
    need least."""
    widths = column_widths(data, wrap_numbers=True)
    sizes = [narrow for narrow, _ in widths]
    room = width - _width(list(range(len(sizes))), widths)
    # A model name beside its placement, or a number, reads better on one line than any header.
    for index in range(len(sizes)):
        whole = max([sizes[index], *(cell_len(row[index].text) for row in data.rows)])
        if whole - sizes[index] <= room:
            room -= whole - sizes[index]
            sizes[index] = whole
    for height in range(1, max(_lines(h, 1) for h in data.columns) + 1):
        needed = [
            next(w for w in range(size, natural + 1) if _lines(header, w) <= height or w == natural)
            for header, size, (_, natural) in zip(data.columns, sizes, widths, strict=True)
        ]
        if sum(needed) - sum(sizes) <= room:
            room -= sum(needed) - sum(sizes)
            sizes = needed
            break
    for index in sorted(range(len(sizes)), key=lambda i: widths[i][1] - sizes[i]):
        deficit = widths[index][1] - sizes[index]
        if 0 < deficit <= room:
            sizes[index] += deficit
            room -= deficit
    return sizes


def _rich(data: TableData, width: int) -> Table:
    """One rich table, each column as wide as its text, headers wrapped only as far as `width` needs."""
    sizes = header_widths(data, width)
    table = Table(title=escape(data.title), title_justify="left")
    for index, column in enumerate(data.columns):
        label = index < data.labels  # names read best left-aligned, numbers right-aligned
        table.add_column(
            escape(column),
            justify="left" if label else "right",
            width=max(sizes[index], 1),
            overflow="fold",  # only when a single column is wider than the terminal: never "…"
        )
    for index, row in enumerate(data.rows):
        table.add_row(*(_markup(c) for c in row), style="bold" if index in data.bold else None)
    return table


def rich_tables(data: TableData, width: int) -> list[Table]:
    """The table as rich tables that fit `width` columns (see `layout`)."""
    return [_rich(part, width) for part in layout(data, width)]


def rich_table(data: TableData) -> Table:
    """The whole table at its natural width (for a wide console or a file)."""
    (table,) = rich_tables(data, 10_000)
    return table


def print_table(data: TableData, console: Console) -> None:
    """The table as it fits the console (see `layout`), each part followed by its notes."""
    for part in layout(data, console.width):
        console.print(_rich(part, console.width))
        for note in part.notes:
            console.print(_markup(note))


def render_results(results: ExperimentResults, console: Console) -> None:
    """Print what the run found: its tables, warnings in yellow, and where the numbers came from."""
    console.print(
        f"[bold]{escape(results.name)}[/bold] — {escape(results.kind)}, run {results.run_id} "
        f"({escape(results.status)}); {escape(fmt.sla_text(results))}"
    )
    line = kinds.headline(results)
    if line is not None:
        style = "bold red" if line.saving is not None and line.saving < 0 else "bold"
        console.print(f"[{style}]{escape(line.text)}.[/]")
    found = kinds.tables(results)
    if not found:
        console.print("[yellow]No results to show: the run stored no finished section.[/yellow]")
    for data in found:
        print_table(data, console)
    for warning in kinds.warnings(results):
        console.print(f"[yellow]⚠ {escape(warning)}[/yellow]")
    console.print(f"[dim]{escape(fmt.trials_text(results))}; {escape(fmt.provenance_line(results))}.[/dim]")
