import os
import sys

# fare_kit lives beside the services, in services/pykit.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "pykit"))

from invoice_py import app  # noqa: E402

app.main()
