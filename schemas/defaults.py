"""Defaults more than one layer must agree on, defined once below them all.

The dataset an ingest uploads to unless told: the options (``flows/``) default to it, and the
end of a run (``tasks/reporting``) leaves ``--dataset`` out of the backfill command it prints
when the run used it. Neither imports the other, so the name lives here.
"""

DEFAULT_DATASET = "hautflow"
"""The Haut.AI dataset a run uses when none is given."""
