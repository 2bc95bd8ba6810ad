"""`python -m services.captioner`: the captioner service on Kafka, as `catalens run captioner`."""

from catalens.streaming.service import main

if __name__ == "__main__":
    raise SystemExit(main("captioner"))
