"""`python -m services.query`: the query service on the real stack (see `catalens run query`)."""

from services.query.serve_streaming import main

if __name__ == "__main__":
    main()
