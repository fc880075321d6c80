"""Reporting: what a run did, told once for the terminal, the Prefect UI and the exit code.

* :mod:`~tasks.reporting.outcome`: the one rule that says whether a run succeeded;
* :mod:`~tasks.reporting.summary`: :class:`RunSummary`, its tables and its markdown;
* :mod:`~tasks.reporting.warnings`: what the counts alone would hide (reads the lake);
* :mod:`~tasks.reporting.report`: the skin-diary plots of the run's report.

Nothing is imported here: the command line imports :mod:`~tasks.reporting.outcome` at start-up,
and it must not bring the lake along.
"""
