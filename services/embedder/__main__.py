"""`python -m services.embedder`: the embedder service on Kafka, as `catalens run embedder`."""

from catalens.streaming.service import main

if __name__ == "__main__":
    raise SystemExit(main("embedder"))
