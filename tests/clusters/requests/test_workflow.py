from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from clusters.models import AccessGrant, AutoApprovalRule, Cluster, Request, RequestEvent, Topic
from clusters.requests import services
from portal.errors import Conflict, NotAllowed
from portal.models import AuditEvent, Membership
from tests import builders
from tests.conftest import make_user

ROLE = "arn:aws:iam::123456789012:role/orders-service"


def topic(actor, team, cluster, **overrides):
    data = {
        "name": "orders",
        "partitions": None,
        "expected_in_mbps": Decimal(12),
        "expected_out_mbps": Decimal(10),
    }
    data.update(overrides)
    return services.prepare_topic_create(actor=actor, team=team, cluster=cluster, **data)


def submit_topic(actor, team, cluster, **overrides):
    return services.submit_request(actor=actor, prepared=topic(actor, team, cluster, **overrides))


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


class TestTopicRequests:
    def test_partitions_are_suggested_from_throughput(self, member_a, team_a, cluster_a):
        prepared = topic(member_a, team_a, cluster_a)
        assert prepared.payload["partitions"] == 3  # max(⌈12/5⌉, ⌈10/10⌉)
        assert prepared.payload["name"] == "team-a.orders"

    def test_fewer_partitions_than_suggested_is_refused(self, member_a, team_a, cluster_a):
        with pytest.raises(ValidationError) as excinfo:
            topic(member_a, team_a, cluster_a, partitions=2)
        assert "needs at least 3 partitions" in errors_of(excinfo)["partitions"][0]

    def test_bad_names_and_configs_get_field_messages(self, member_a, team_a, cluster_a):
        with pytest.raises(ValidationError) as excinfo:
            topic(
                member_a,
                team_a,
                cluster_a,
                name="bad name!",
                retention_ms=0,
                max_message_bytes=9 * 1024 * 1024,
                compression_type="brotli",
                cleanup_policy="delete,compact",
            )
        assert set(errors_of(excinfo)) == {
            "name",
            "retention_ms",
            "max_message_bytes",
            "compression_type",
            "cleanup_policy",
        }

    def test_duplicate_topic_is_refused(self, member_a, admin, team_a, cluster_a):
        services.approve_request(request_id=submit_topic(member_a, team_a, cluster_a).pk, actor=admin)
        with pytest.raises(ValidationError) as excinfo:
            topic(member_a, team_a, cluster_a)
        assert "already exists" in errors_of(excinfo)["name"][0]

    def test_headroom_is_reported_and_soft_limits_flagged(self, member_a, team_a, cluster_a):
        calm = topic(member_a, team_a, cluster_a)
        sentences = [quota.sentence() for quota in calm.assessment.headroom]
        assert "After this request: 6% of the cluster's write throughput (12 of 200 MB/s)." in sentences
        assert not calm.assessment.warnings

        busy = topic(member_a, team_a, cluster_a, expected_in_mbps=Decimal(170))
        assert [w.field for w in busy.assessment.warnings] == ["expected_in_mbps"]
        assert submit_topic(member_a, team_a, cluster_a, expected_in_mbps=Decimal(170)).has_warnings

    def test_hard_quota_violation_blocks_submission(self, member_a, team_a, cluster_a):
        with pytest.raises(ValidationError) as excinfo:
            submit_topic(member_a, team_a, cluster_a, expected_in_mbps=Decimal(201))
        assert (
            "exceed the limit on the cluster's write throughput: 201 of 200 MB/s"
            in errors_of(excinfo)["expected_in_mbps"][0]
        )
        assert not Request.objects.exists()

    def test_compacted_partitions_have_their_own_limit(self, member_a, admin, team_a, cluster_a):
        services.approve_request(
            request_id=submit_topic(member_a, team_a, cluster_a, partitions=100, cleanup_policy="compact").pk,
            actor=admin,
        )
        with pytest.raises(ValidationError) as excinfo:
            submit_topic(member_a, team_a, cluster_a, name="more", partitions=21, cleanup_policy="compact")
        assert (
            "limit on the cluster's compacted partitions: 121 of 120" in errors_of(excinfo)["partitions"][0]
        )
        # Non-compacted topics only count against the 2,400.
        submit_topic(member_a, team_a, cluster_a, name="plain", partitions=200)

    def test_cost_estimate_uses_the_pricing_module(self, member_a, team_a, cluster_a):
        prepared = topic(
            member_a,
            team_a,
            cluster_a,
            expected_in_mbps=Decimal(0),
            expected_out_mbps=Decimal(0),
            partitions=6,
        )
        assert prepared.cost.total == Decimal("6.57")  # 6 partitions × 730 h × $0.0015

    def test_other_teams_cluster_and_finance_are_refused(self, member_b, team_b, finance, team_a, cluster_a):
        with pytest.raises(NotAllowed):
            topic(member_b, team_a, cluster_a)
        with pytest.raises(ValidationError) as excinfo:
            topic(member_b, team_b, cluster_a)
        assert "neither owns this cluster" in errors_of(excinfo)["cluster"][0]
        Membership.objects.create(team=team_a, user=finance)
        with pytest.raises(NotAllowed):
            topic(finance, team_a, cluster_a)

    def test_shared_cluster_accepts_the_other_team(self, member_b, team_b, cluster_a):
        cluster_a.shared_with.add(team_b)
        assert topic(member_b, team_b, cluster_a).payload["name"] == "team-b.orders"


class TestApprovalWorkflow:
    def test_approval_materializes_inventory_and_records_events(self, member_a, admin, team_a, cluster_a):
        request = submit_topic(
            member_a,
            team_a,
            cluster_a,
            access_entries=[
                services.AccessInput(ROLE, produce=True, consume=False),
                services.AccessInput(
                    ROLE.replace("orders-service", "billing"),
                    produce=False,
                    consume=True,
                    consumer_group_prefix="billing-",
                ),
            ],
        )
        services.approve_request(request_id=request.pk, actor=admin)
        request.refresh_from_db()
        assert request.status == Request.Status.APPROVED and request.decided_by == admin
        created = Topic.objects.get(name="team-a.orders")
        assert request.topic == created and created.status == Topic.Status.PENDING
        grants = AccessGrant.objects.filter(topic=created)
        assert sorted((g.can_produce, g.can_consume) for g in grants) == [(False, True), (True, False)]
        assert list(request.events.values_list("to_status", flat=True)) == ["submitted", "approved"]
        assert AuditEvent.objects.filter(action="clusters.request.approved", team=team_a).count() == 1

    def test_four_eyes_even_for_admins(self, admin, team_a, cluster_a):
        Membership.objects.create(team=team_a, user=admin)
        request = submit_topic(admin, team_a, cluster_a)
        with pytest.raises(NotAllowed, match="another admin must decide"):
            services.approve_request(request_id=request.pk, actor=admin)
        with pytest.raises(NotAllowed):
            services.reject_request(request_id=request.pk, actor=admin, reason="no")
        assert Request.objects.get(pk=request.pk).status == Request.Status.SUBMITTED

    def test_members_and_finance_cannot_decide(self, member_a, member_b, finance, team_a, cluster_a):
        request = submit_topic(member_a, team_a, cluster_a)
        for user in (member_b, finance):
            with pytest.raises(NotAllowed):
                services.approve_request(request_id=request.pk, actor=user)

    def test_double_approval_is_a_conflict_and_changes_nothing(self, member_a, admin, team_a, cluster_a):
        request = submit_topic(member_a, team_a, cluster_a)
        services.approve_request(request_id=request.pk, actor=admin)
        with pytest.raises(Conflict, match="already approved"):
            services.approve_request(request_id=request.pk, actor=admin)
        assert Topic.objects.count() == 1
        assert RequestEvent.objects.filter(request=request).count() == 2

    def test_reject_needs_a_reason_that_the_requester_sees(self, member_a, admin, team_a, cluster_a):
        request = submit_topic(member_a, team_a, cluster_a)
        with pytest.raises(ValidationError):
            services.reject_request(request_id=request.pk, actor=admin, reason="   ")
        services.reject_request(request_id=request.pk, actor=admin, reason="Use the shared cluster.")
        request.refresh_from_db()
        assert request.status == Request.Status.REJECTED
        assert request.decision_reason == "Use the shared cluster."
        with pytest.raises(Conflict):
            services.approve_request(request_id=request.pk, actor=admin)

    def test_only_the_requester_cancels_and_only_while_submitted(self, member_a, admin, team_a, cluster_a):
        other = Membership.objects.create(team=team_a, user=make_user("x")).user
        request = submit_topic(member_a, team_a, cluster_a)
        with pytest.raises(NotAllowed):
            services.cancel_request(request_id=request.pk, actor=other)
        services.cancel_request(request_id=request.pk, actor=member_a)
        with pytest.raises(Conflict, match="already cancelled"):
            services.cancel_request(request_id=request.pk, actor=member_a)

    def test_approval_rechecks_quotas(self, member_a, admin, team_a, cluster_a):
        first = submit_topic(member_a, team_a, cluster_a, name="one", expected_in_mbps=Decimal(120))
        second = submit_topic(member_a, team_a, cluster_a, name="two", expected_in_mbps=Decimal(120))
        services.approve_request(request_id=first.pk, actor=admin)
        with pytest.raises(Conflict, match="no longer fits"):
            services.approve_request(request_id=second.pk, actor=admin)
        assert Request.objects.get(pk=second.pk).status == Request.Status.SUBMITTED

    def test_auto_approval_rule(self, member_a, team_a, cluster_a):
        AutoApprovalRule.objects.create(
            name="small dev topics", kind="topic.create", environment="dev", max_partitions=6
        )
        small = submit_topic(member_a, team_a, cluster_a)
        assert small.status == Request.Status.APPROVED
        assert small.approved_by_rule.name == "small dev topics" and small.decided_by is None
        assert small.events.last().note == "approved by rule “small dev topics”"
        big = submit_topic(member_a, team_a, cluster_a, name="big", partitions=12)
        assert big.status == Request.Status.SUBMITTED

    def test_notifications(self, member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            request = submit_topic(member_a, team_a, cluster_a)
        assert [m.to for m in mail.outbox] == [["admin@example.com"]]
        assert "Approval needed" in mail.outbox[0].subject
        with django_capture_on_commit_callbacks(execute=True):
            services.reject_request(request_id=request.pk, actor=admin, reason="Too big.")
        assert mail.outbox[1].to == ["member_a@example.com"]
        assert "Reason: Too big." in mail.outbox[1].body
        # The broker redelivers the task (acks_late): nobody is emailed twice.
        from clusters.requests.tasks import notify_request_event

        notify_request_event.apply(args=[request.pk, "rejected"])
        assert len(mail.outbox) == 2


class TestClusterRequests:
    def base(self, member_a, team_a, platform_account, network_profile, **overrides):
        data = dict(
            team=team_a,
            name="team-a-prod",
            kind=Cluster.Kind.DEDICATED,
            environment="prod",
            account=platform_account,
            region="us-east-1",
            network_profile=network_profile,
            expected_write_mbps=Decimal(20),
            expected_read_mbps=Decimal(40),
            contains_pii=True,
            latency_class=Cluster.LatencyClass.SENSITIVE,
            justification="Payments events",
        )
        data.update(overrides)
        return services.prepare_cluster_create(actor=member_a, **data)

    def test_valid_request_and_its_tags(self, member_a, admin, team_a, platform_account, network_profile):
        prepared = self.base(member_a, team_a, platform_account, network_profile)
        assert prepared.payload["tags"] == {"team": "team-a", "cost-center": "CC-A", "environment": "prod"}
        assert prepared.cost.lines[0].cost == Decimal("547.50")
        request = services.submit_request(actor=member_a, prepared=prepared)
        services.approve_request(request_id=request.pk, actor=admin)
        cluster = Cluster.objects.get(name="team-a-prod")
        assert cluster.status == Cluster.Status.PENDING and cluster.team == team_a

    def test_field_rules(self, member_a, team_a, team_b, platform_account, network_profile, cluster_a):
        team_account = builders.aws_account("210987654321", name="B's", ownership="team", team=team_b)
        with pytest.raises(ValidationError) as excinfo:
            self.base(member_a, team_a, platform_account, network_profile, name="team-a-dev")
        assert "already exists" in errors_of(excinfo)["name"][0]
        with pytest.raises(ValidationError) as excinfo:
            self.base(member_a, team_a, team_account, network_profile, name="bad_name", justification=" ")
        assert set(errors_of(excinfo)) == {"name", "account", "network_profile", "justification"}

    def test_read_cluster_needs_a_write_cluster_source(
        self, member_a, team_a, platform_account, network_profile, cluster_a
    ):
        with pytest.raises(ValidationError) as excinfo:
            self.base(member_a, team_a, platform_account, network_profile, kind=Cluster.Kind.READ)
        assert "source_cluster" in errors_of(excinfo)
        with pytest.raises(ValidationError) as excinfo:
            self.base(
                member_a,
                team_a,
                platform_account,
                network_profile,
                kind=Cluster.Kind.READ,
                source_cluster=cluster_a,
            )
        assert "must be a live write cluster" in errors_of(excinfo)["source_cluster"][0]

    def test_ten_clusters_per_account_and_region(
        self, member_a, team_a, platform_account, network_profile, cluster_a
    ):
        for n in range(9):
            Cluster.objects.create(
                name=f"c{n}",
                team=team_a,
                kind="dedicated",
                environment="dev",
                account=platform_account,
                region="us-east-1",
                network_profile=network_profile,
            )
        with pytest.raises(ValidationError) as excinfo:
            services.submit_request(
                actor=member_a, prepared=self.base(member_a, team_a, platform_account, network_profile)
            )
        assert "11 of 10 clusters" in errors_of(excinfo)["account"][0]

    def test_approval_refuses_a_name_taken_since_filing_in_words(
        self, member_a, admin, team_a, platform_account, network_profile
    ):
        # Two requests for one name (filed twice before the duplicate rule refused it): the first approved,
        # the second no longer fits, as a quota taken meanwhile; it was a 500 (the unique constraint).
        first = services.submit_request(
            actor=member_a, prepared=self.base(member_a, team_a, platform_account, network_profile)
        )
        second = builders.waiting_copy(first)
        services.approve_request(request_id=first.pk, actor=admin)
        with pytest.raises(Conflict, match="no longer fits: A cluster called “team-a-prod” already exists"):
            services.approve_request(request_id=second.pk, actor=admin)
        assert Request.objects.get(pk=second.pk).status == Request.Status.SUBMITTED
        assert Cluster.objects.filter(name="team-a-prod").count() == 1


class TestAccessRequests:
    def test_prefix_must_stay_in_the_team_namespace(self, member_a, team_a, cluster_a):
        entry = services.AccessInput(ROLE, produce=True, consume=False)
        with pytest.raises(ValidationError) as excinfo:
            services.prepare_access_grant(
                actor=member_a, team=team_a, cluster=cluster_a, entry=entry, topic_prefix="team-b."
            )
        assert "team-a." in errors_of(excinfo)["topic_prefix"][0]
        prepared = services.prepare_access_grant(
            actor=member_a, team=team_a, cluster=cluster_a, entry=entry, topic_prefix="team-a.orders"
        )
        assert prepared.payload["policy"]["Statement"][1]["Resource"].endswith("/team-a.orders*")

    def test_consumers_need_a_group_prefix_and_a_valid_role(self, member_a, team_a, cluster_a):
        entry = services.AccessInput("arn:aws:iam::1:user/x", produce=False, consume=True)
        with pytest.raises(ValidationError) as excinfo:
            services.prepare_access_grant(
                actor=member_a, team=team_a, cluster=cluster_a, entry=entry, topic_prefix="team-a."
            )
        errors = errors_of(excinfo)
        assert "not an AWS account id" in errors["principal_arn"][0]
        assert errors["consumer_group_prefix"] == ["Consumers need a consumer-group prefix."]


def test_absurd_partition_counts_are_a_field_error(member_a, team_a, cluster_a):
    with pytest.raises(ValidationError) as excinfo:
        topic(member_a, team_a, cluster_a, partitions=10**30)
    assert "1 to 100,000 partitions" in errors_of(excinfo)["partitions"][0]


def test_cost_lines_are_stored_with_the_request(member_a, team_a, cluster_a):
    request = submit_topic(member_a, team_a, cluster_a)
    assert request.assessment["cost"]["total_usd"] == str(request.estimated_monthly_cost)
    assert {line["charge_type"] for line in request.assessment["cost"]["lines"]} >= {
        "partition_hours",
        "data_in",
    }
