"""Two-person approval in Chromium: an operator edits a genre, the change waits; an admin
approves it on the Approvals page; the record then shows the new value."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.support import ADMIN, OPERATOR


@pytest.fixture(scope="module")
def console_env(tmp_path_factory) -> dict[str, str]:
    config = tmp_path_factory.mktemp("approval-config") / "backoffice.toml"
    config.write_text('[views.genres]\napproval = { edit = "admin" }\n', encoding="utf-8")
    return {"BACKOFFICE_CONFIG": str(config)}


def test_an_operator_requests_an_edit_and_an_admin_approves_it(new_context):
    requester = new_context(extra_http_headers=OPERATOR.headers).new_page()
    requester.goto("/admin/genres/edit/?id=1")
    old = requester.locator("#name").input_value()
    requester.fill("#name", old + " (approved)")
    requester.locator("input[type=submit]").first.click()
    expect(requester.locator(".alert-success")).to_contain_text("waits for approval")
    request_id = re.search(r"request #(\d+)", requester.locator(".alert-success").inner_text()).group(1)
    requester.goto("/admin/genres/details/?id=1")  # the record itself is unchanged (its history shows the request)
    expect(requester.locator("table.searchable")).not_to_contain_text(old + " (approved)")
    assert requester.goto("/admin/approvals/").status == 404  # the operator does not hold the role

    approver = new_context(extra_http_headers=ADMIN.headers).new_page()
    approver.goto("/admin/")
    expect(approver.locator(".backoffice-banner")).to_contain_text("wait for your approval")
    approver.get_by_role("link", name="Approvals").first.click()
    approver.locator(f'tr[data-request="{request_id}"] a').first.click()
    expect(approver.locator('table.approval-rows tr[data-column="name"]')).to_contain_text(old + " (approved)")
    approver.fill("#reason", "checked")
    approver.get_by_role("button", name="Approve and apply").click()
    expect(approver.locator(".alert-success")).to_contain_text(f"Request #{request_id} was approved and applied")

    requester.goto("/admin/genres/details/?id=1")
    expect(requester.locator("table.searchable")).to_contain_text(old + " (approved)")
