"""The README's quick start, run with curl exactly as a new user would."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from devstack import ROOT

pytestmark = pytest.mark.e2e

FORM_STATUS = {0: "Not Started", 1: "In Progress", 2: "Submitted"}
PAYMENT_STATUS = {0: "Created", 1: "Pending", 2: "Success", 3: "Cancelled", 4: "Rejected"}
CATEGORY = {"fully_funded": "Fully Funded", "self_funded": "Self Funded"}


def curl(stack, *args: str) -> str:
    key = (stack.config.var / "dev-api-key").read_text().strip()
    command = ["curl", "-sS", "--fail-with-body", "--cacert", str(stack.config.cert), "-H", f"X-API-Key: {key}", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def test_quickstart_post_poll_download(stack, tmp_path: Path) -> None:
    base = stack.config.base_url
    created = json.loads(curl(stack, f"{base}/api/v1/exports", "-d", "@examples/participants-small.json",
                              "-H", "Content-Type: application/json"))
    status = json.loads(curl(stack, f"{base}/api/v1/exports/{created['id']}"))
    assert status["state"] == "succeeded"
    curl(stack, "-OJ", "--output-dir", str(tmp_path), f"{base}/api/v1/exports/{created['id']}/file")
    assert [p.name for p in tmp_path.iterdir()] == ["participants-small.xlsx"]

    rows = CalamineWorkbook.from_path(str(tmp_path / "participants-small.xlsx")).get_sheet_by_index(0).to_python()
    assert rows[0] == ["ID", "Full Name", "Email", "Country", "Institution", "Phone Number", "Category",
                       "Form Status", "Payment Status", "Registration Date"]
    records = json.loads((ROOT / "examples" / "participants-small.json").read_text())["records"]
    expected = [
        [r["id"], r["full_name"], r["email"], r["nationality"], r["institution"], r["phone_number"],
         CATEGORY[r["category"]], FORM_STATUS[r["form_status"]], PAYMENT_STATUS[r["payment_status"]],
         datetime.strptime(r["created_at"], "%Y-%m-%d %H:%M:%S")]
        for r in records
    ]
    assert rows[1:] == expected
