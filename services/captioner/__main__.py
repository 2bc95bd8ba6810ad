"""`python -m services.captioner`: the captioner service on Kafka, as `catalens run captioner`."""

from core.settings import Settings
from core.streaming.service import run_service
from services.captioner.app import create_app
from services.captioner.routes import NAME

if __name__ == "__main__":
    raise SystemExit(run_service(NAME, create_app, Settings()))
