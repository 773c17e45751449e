"""Rules on what platform admins register: accounts, network profiles and the platform settings."""

import pytest
from django.core.exceptions import ValidationError

from clusters.models import AwsAccount, NetworkProfile, PlatformSettings


def errors(obj) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    return excinfo.value.message_dict


def test_an_account_role_must_live_in_that_account(db):
    account = AwsAccount(
        name="x",
        account_id="123456789012",
        ownership="platform",
        role_arn="arn:aws:iam::210987654321:role/portal",
    )
    assert errors(account)["role_arn"] == ["The role must be in this account."]


def test_team_accounts_need_their_team_and_shared_ones_none(team_a):
    assert "team" in errors(
        AwsAccount(
            name="x", account_id="123456789012", ownership="team", role_arn="arn:aws:iam::123456789012:role/p"
        )
    )
    assert "team" in errors(
        AwsAccount(
            name="y",
            account_id="123456789013",
            ownership="platform",
            team=team_a,
            role_arn="arn:aws:iam::123456789013:role/p",
        )
    )
    assert "account_id" in errors(
        AwsAccount(name="z", account_id="12345", ownership="platform", role_arn="arn:aws:iam::12345:role/p")
    )


def test_network_profiles_are_checked_on_save_through_the_admin(platform_account):
    profile = NetworkProfile(
        account=platform_account,
        region="us-east-1",
        name="one-az",
        vpc_id="vpc-0123456789abcdef0",
        subnets=[{"id": "subnet-0123456789abcdef0", "az": "us-east-1a"}],
    )
    assert "two different availability zones" in errors(profile)["subnets"][0]


@pytest.mark.parametrize(
    ("template", "ok"),
    [("{team}.{name}", True), ("{name}", True), ("{team}", False), ("{team}.{nme}.{name}", False)],
)
def test_topic_name_template_must_build_names(db, template, ok):
    settings_row = PlatformSettings(topic_name_template=template)
    if ok:
        settings_row.full_clean()
    else:
        assert "topic_name_template" in errors(settings_row)


def test_soft_limit_is_a_percentage(db):
    assert "soft_limit_percent" in errors(PlatformSettings(soft_limit_percent=150))
