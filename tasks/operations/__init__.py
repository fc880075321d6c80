"""Operations on the service and the lake, shared by the ``hautflow`` commands and the flows.

Private tokens (:mod:`.tokens`), dataset retention (:mod:`.retention`, :mod:`.datasets`), the
application's enabled algorithms (:mod:`.applications`) and PDF reports (:mod:`.reports`).
The package imports nothing by itself: :mod:`tasks.uploading` uses :mod:`.retention`, and
:mod:`.applications` uses :mod:`tasks.uploading`, so eager imports here would be circular.
"""
