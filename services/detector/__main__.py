"""`python -m services.detector`: the detector service on Kafka, as `catalens run detector`."""

from catalens.streaming.service import main

if __name__ == "__main__":
    raise SystemExit(main("detector"))
