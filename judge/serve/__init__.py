"""`judge serve`: the judge as an HTTP service (Starlette on uvicorn).

    app.py        the routes, auth and error answers; ServeConfig, create_app
    intake.py     a request's JSON -> a checked queue Submission
    catalog.py    the problems directory and the language table
    tracker.py    the server's view of the queue (depth, positions, results seen)
    callbacks.py  results POSTed to callback URLs, retried with backoff
    metrics.py    Prometheus metrics
    pages.py      the status page and the submission page (HTML, inline SVG)
    openapi.py    the API's schema as data
    workers.py    --workers N: local `judge worker` processes
    cli.py        the `judge serve` command

The web stack is imported only by `judge serve` itself (cli.py defers it),
so the other judge commands do not pay for it.
"""
