"""`python -m services.detector`: the detector service on Kafka, as `catalens run detector`."""

from core.settings import Settings
from core.streaming.service import run_service
from services.detector.app import create_app
from services.detector.routes import NAME

if __name__ == "__main__":
    raise SystemExit(run_service(NAME, create_app, Settings()))
