"""The placement planner: what it knows of each machine type (profile.py), the capacity model fitted to it
(capacity.py), and the optimisers that choose machines and tenants (milp.py, greedy.py). Pure: it reads
profiles, never measures."""
