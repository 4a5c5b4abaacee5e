"""Alert settings and ack deadlines from the operator's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ACK_DEADLINES, from_env
from exchange.errors import InputError


def test_alert_settings_and_deadlines_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_SMTP_HOST", "relay.example")
    monkeypatch.setenv("EXCHANGE_SMTP_PORT", "2525")
    monkeypatch.setenv("EXCHANGE_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("EXCHANGE_SMTP_CA_FILE", "/etc/ca.pem")
    monkeypatch.setenv("EXCHANGE_WEBHOOK_ALLOW", "10.0.0.0/8, 192.168.1.0/24")
    monkeypatch.setenv("EXCHANGE_ACK_DEADLINES", "flash=300,immediate=1800")
    cfg = from_env()
    a = cfg.alerts
    assert (a.smtp_host, a.smtp_port, a.smtp_password) == ("relay.example", 2525, "s3cret")
    assert a.smtp_ca_file == Path("/etc/ca.pem") and a.smtp_starttls
    assert a.allow_networks == ("10.0.0.0/8", "192.168.1.0/24")
    assert cfg.ack_deadlines == {**ACK_DEADLINES, "flash": 300, "immediate": 1800}
    assert "s3cret" not in repr(cfg)  # a config printed or logged shows no secret


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("EXCHANGE_ACK_DEADLINES", "flash=soon"),
        ("EXCHANGE_ACK_DEADLINES", "urgent=60"),
        ("EXCHANGE_ACK_DEADLINES", "flash=0"),
        ("EXCHANGE_SMTP_PORT", "smtp"),
        ("EXCHANGE_WEBHOOK_ALLOW", "10.0.0.0/33"),
    ],
)
def test_bad_values_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InputError, match=var):
        from_env()
