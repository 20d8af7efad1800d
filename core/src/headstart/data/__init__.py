"""Reading examples from files: core's generic formats (CSV, TSV, JSONL; ``formats``), the split
names and the one check of a task's split mappings (``splits``), the label-budget sampler
(``budget``) and the check that every class keeps training examples (``classes``). Their public
names are exported once, by ``headstart`` itself."""
