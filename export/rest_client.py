#!/usr/bin/env python3
"""Classify images with a model served by TF Serving, over its REST API (port 8501).

    python rest_client.py cat.jpg dog.png                       # files, base64 bytes
    python rest_client.py --pixels --size 32 cat.jpg            # float pixels
    python rest_client.py --print-request cat.jpg               # show the JSON, send nothing

Needs only the standard library (and numpy + pillow for --pixels). Two request shapes:

* ``serving_bytes``: the encoded JPEG/PNG files, base64 in TF Serving's ``{"b64": ...}``
  objects; the model decodes, resizes and normalises them.
* ``serving_default``: RGB pixels in 0-255 as floats, (batch, height, width, 3), already at
  the model's input size; the model normalises them.

With no server at ``--server`` (connection refused, no answer, unknown host) it prints one line
to stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 30.0
START_SERVER = "start one with docker run ... tensorflow/serving (see export/README.md)"


def bytes_request(files: list[bytes]) -> dict:
    """The JSON body for the ``serving_bytes`` signature: one ``{"b64": ...}`` per file."""
    encoded = [{"b64": base64.b64encode(data).decode("ascii")} for data in files]
    return {"signature_name": "serving_bytes", "inputs": {"image_bytes": encoded}}


def pixels_request(images) -> dict:
    """The JSON body for ``serving_default``: ``images`` is (batch, height, width, 3), 0-255."""
    return {"signature_name": "serving_default", "inputs": {"images": images.tolist()}}


def load_pixels(path: str, size: int):
    """An image file as float32 RGB 0-255 pixels of ``size`` x ``size``."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.BILINEAR)
        return np.asarray(image, dtype=np.float32)


def predict(server: str, model: str, body: dict, timeout: float = TIMEOUT_S) -> dict:
    """POST ``body`` to ``{server}/v1/models/{model}:predict`` and return the JSON answer."""
    request = urllib.request.Request(
        f"{server.rstrip('/')}/v1/models/{model}:predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _no_server(server: str, problem: str) -> int:
    print(f"no server at {server} ({problem}): {START_SERVER}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--server", default="http://localhost:8501")
    parser.add_argument("--model", default="srm_resnet20", help="name in models.config")
    parser.add_argument("--pixels", action="store_true", help="send float pixels, not files")
    parser.add_argument("--size", type=int, default=32, help="model input size for --pixels")
    parser.add_argument("--print-request", action="store_true", help="print the JSON and exit")
    args = parser.parse_args(argv)

    if args.pixels:
        import numpy as np

        body = pixels_request(np.stack([load_pixels(path, args.size) for path in args.images]))
    else:
        files = []
        for path in args.images:
            with open(path, "rb") as handle:
                files.append(handle.read())
        body = bytes_request(files)
    if args.print_request:
        print(json.dumps(body)[:2000])
        return 0
    try:
        outputs = predict(args.server, args.model, body)["outputs"]
    except urllib.error.HTTPError:
        raise  # the server answered: its error is the model's
    except urllib.error.URLError as error:  # refused, unknown host, no connection in time
        reason = getattr(error.reason, "strerror", None) or str(error.reason)
        return _no_server(args.server, reason)
    except (TimeoutError, ConnectionError) as error:  # connected, then no answer or cut off
        return _no_server(args.server, str(error) or type(error).__name__)
    for path, classes, scores in zip(args.images, outputs["classes"], outputs["scores"]):
        best = ", ".join(f"{c}: {s:.3f}" for c, s in zip(classes, scores))
        print(f"{path}: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
