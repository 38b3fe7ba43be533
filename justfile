# fare's recipes. `just` itself: `pip install rust-just` (or `cargo install just`).

# Build and run the whole platform (Ctrl-C stops it).
up *ARGS:
    cargo run -p fare -- up {{ARGS}}

# Stop a platform started with `just up --detach`.
down:
    cargo run -p fare -- down

# The images of `--runtime containers`: built when missing (`just images --rebuild`: all again), listed.
images *ARGS:
    cargo run -p fare -- images {{ARGS}}

# What runs where.
status:
    cargo run -p fare -- status

# Every test: unit, service integration against a real moto, provisioning, the whole platform;
# then the Python services' own.
test:
    cargo test --workspace
    for dir in services/pykit/tests services/loyalty/tests services/invoice/python/tests; do python3 -m unittest discover -s "$dir"; done

# The topology as a Mermaid flowchart.
graph:
    cargo run -p fare -- graph

# Probe the emulator for the SNS/SQS behaviours the platform relies on.
doctor *ARGS:
    cargo run -p fare -- doctor {{ARGS}}

# Format and lint as CI does.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Throughput, chain latency and where it goes, beside the emulator alone (`just bench --burst`).
bench *ARGS:
    cargo run -p fare -- bench {{ARGS}}

# Contracts: rewrite every pact from the consumers' tests (contracts/pacts, committed), hold them
# against the manifests, replay each against its real provider, then match every message pact against what
# the running platform publishes on SNS (JUnit in target/).
verify:
    PACT_DO_NOT_TRACK=true cargo test -p store -p devices -p fulfillment -p tracking -p invoice -p mailer -p collector --test '*' contracts::
    cargo run -q -p fare -- contracts check --junit target/contracts-check.xml
    PACT_DO_NOT_TRACK=true cargo run -q -p fare -- contracts verify --junit target/contracts-verify.xml
    PACT_DO_NOT_TRACK=true cargo run -q -p fare -- contracts verify --via-queue --junit target/contracts-verify-queue.xml

# Start a platform, run every end-to-end scenario (scenarios/*.yaml), stop it; reports under .fare/.
e2e *ARGS:
    cargo run -p fare -- e2e {{ARGS}}

# The fault matrix from the topology (`just chaos --quick`), or a load with kills (`just chaos --load 200`).
chaos *ARGS:
    cargo run -p fare -- chaos {{ARGS}}

# The deploy gate as CI runs it: publish, verify with results, can-i-deploy and record-deployment for
# every service, against PACT_BROKER_BASE_URL or a local `fare broker` (ENV defaults to production).
deploy-gate ENV="production":
    bash .ci/deploy-gate {{ENV}}

# The pacts held against what the last e2e and chaos runs did (gaps accepted in contracts/coverage.toml).
coverage:
    cargo run -q -p fare -- contracts coverage --strict --junit target/coverage-junit.xml
