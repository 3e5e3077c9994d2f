"""`rustbox-isolate`: isolate's command line and meta file, run by rustbox.

CMS and Judge0 drive IOI's `isolate` by its command line (`--init`,
`--run`, `--cleanup` and isolate's flags, sizes in KiB) and read its meta
file. This package takes that command line as isolate 2.x documents it
(accepting isolate 1.10's spellings too) and runs it on rustbox's own boxes:

    options.py   isolate's options as one table (with what rustbox does with
                 each: supported, different, refused) and its getopt-style parser
    command.py   the verbs: an isolate command line -> RunRequest.from_options
                 -> the one run path (BoxSession) -> isolate's meta, status
                 line and exit status (0 OK, 1 the program failed, 2 the sandbox)

Nothing here builds a run another way: every run goes through
`RunRequest.from_options` and `BoxSession.run`, as `rustbox run` does.
"""
