"""`python -m services.indexer`: the indexer service on Kafka, as `catalens run indexer`."""

from catalens.streaming.service import main

if __name__ == "__main__":
    raise SystemExit(main("indexer"))
