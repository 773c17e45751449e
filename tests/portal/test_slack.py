from django.test import override_settings

from portal import slack


@override_settings(SLACK_WEBHOOK_URL="")
def test_slack_is_off_without_a_webhook():
    assert slack.post("hello") is False


@override_settings(SLACK_WEBHOOK_URL="http://127.0.0.1:1/hook")
def test_slack_refuses_plain_http_webhooks():
    assert slack.post("hello") is False
