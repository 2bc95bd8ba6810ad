.PHONY: demo test lint env
demo:   ## ingest the sample catalog on the embedded default and serve http://127.0.0.1:8000
	bash scripts/demo.sh
test:   ## run the whole test suite (installs what it needs)
	bash scripts/test.sh
lint:
	bash -c 'v=$$(scripts/env.sh) && $$v/bin/ruff check . && $$v/bin/mypy'
env:
	scripts/env.sh
