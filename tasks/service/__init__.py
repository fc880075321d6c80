"""Where the Haut.AI service is and how to reach it: the ``HAUT_*`` settings
(:mod:`tasks.service.settings`) and a client to the service they point at, or to an embedded
emulator (:mod:`tasks.service.connection`).

Below the flows and the command line, which both use it; nothing is imported here, so that
``hautflow --help`` stays fast.
"""
