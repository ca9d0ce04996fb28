"""One credential masker for the CLI (config show, diagnose, camera errors) and camera status."""

from __future__ import annotations

import pytest

from agent.cli.redact import redact
from agent.redact import redact_url
from drivers.camera.worker import redact_source


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://u:p@h:554/s", "rtsp://***@h:554/s"),
        ("rtsp://apitoken@cam/s", "rtsp://***@cam/s"),  # a token as user name, no password
        ("RTSP://admin:p@ss@cam/live?x=1", "RTSP://***@cam/live?x=1"),  # raw '@' in the password
        ("http://cam/snap@2x.jpg", "http://cam/snap@2x.jpg"),  # '@' in the path is not userinfo
        ("mqtts://user:pw@broker:8883", "mqtts://***@broker:8883"),
        ("rtsp://cam/s", "rtsp://cam/s"),
        ("/var/video/a.avi", "/var/video/a.avi"),
        ("user@example.org", "user@example.org"),
        (0, "0"),
        # query and fragment parameters named (or ending in) a credential word, any case
        ("rtsp://cam/s?user=admin&password=pw&channel=1", "rtsp://cam/s?user=admin&password=***&channel=1"),
        ("rtsp://u:p@cam/s?PWD=a;pass=b#token=c", "rtsp://***@cam/s?PWD=***;pass=***#token=***"),
        ("https://h/x?api_key=a&access_token=b&X-Amz-Signature=c&client_secret=d&rtspAuth=e&key=f",
         "https://h/x?api_key=***&access_token=***&X-Amz-Signature=***&client_secret=***&rtspAuth=***&key=***"),
        ("http://h/x?pass%77ord=a&keyframe=1&password=", "http://h/x?pass%77ord=***&keyframe=1&password="),
        ("http://h/x?authority=1&tokens=2&passage=3", "http://h/x?authority=1&tokens=2&passage=3"),
        # every URL inside a text, e.g. an error message
        ("cannot open rtsp://u:p@cam/s?token=t refused; retry http://cam/x?sig=s",
         "cannot open rtsp://***@cam/s?token=*** refused; retry http://cam/x?sig=***"),
        ("'rtsp://cam/s?password=p' failed", "'rtsp://cam/s?password=***' failed"),
    ],
)
def test_credentials_are_masked(url: str | int, shown: str) -> None:
    assert redact_url(url) == shown


def test_camera_and_cli_share_the_one_function() -> None:
    assert redact_source is redact_url
    config = {"cameras": [{"source": "rtsp://apitoken@cam/s"}], "uplink": {"token": "abc", "host": "b"}}
    shown = {"cameras": [{"source": "rtsp://***@cam/s"}], "uplink": {"token": "<redacted>", "host": "b"}}
    assert redact(config) == shown
