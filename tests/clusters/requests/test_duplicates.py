"""No request is ever silently duplicated: a web form posted again (Back + Submit, a double click, the
browser re-POSTing) files once, and a request that would only repeat a waiting one is refused at filing,
by the forms and the API alike; at approval the state is checked again, so two twins filed before the rule
(or in a race) cannot both be approved into the same state."""

import re
import threading
import time

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse

from clusters import forms
from clusters.models import AccessGrant, Request
from clusters.requests import services
from portal.errors import Conflict
from tests import builders
from tests.conftest import client_for

ROLE = "arn:aws:iam::123456789012:role/orders-service"
KEY = re.compile(r'name="submission_key" value="([0-9a-f]{32})"')


def key_of(response) -> str:
    """The one-time submission key the rendered form carries."""
    [key] = KEY.findall(response.content.decode())
    return key


def messages_of(response) -> list[str]:
    return [message.message for message in get_messages(response.wsgi_request)]


def detail(request_id: int) -> str:
    return reverse("clusters:request-detail", args=[request_id])


@pytest.fixture
def cluster_form(team_a, network_profile) -> dict:
    return builders.cluster_form(team_a, network_profile)


def access_prepared(actor, team, cluster, topic, **entry) -> services.Prepared:
    return services.prepare_access_grant(
        actor=actor,
        team=team,
        cluster=cluster,
        topic=topic,
        entry=services.AccessInput(**{"principal_arn": ROLE, "produce": True, "consume": False, **entry}),
    )


def access(actor, team, cluster, topic, **entry) -> Request:
    return services.submit_request(
        actor=actor, prepared=access_prepared(actor, team, cluster, topic, **entry)
    )


def topic_change(actor, topic, **changes) -> Request:
    configs = topic.configs
    values = {
        "partitions": topic.partitions,
        "retention_ms": configs["retention.ms"],
        "retention_bytes": configs["retention.bytes"],
        "max_message_bytes": configs["max.message.bytes"],
        "compression_type": configs["compression.type"],
        "message_timestamp_type": configs["message.timestamp.type"],
        **changes,
    }
    prepared = services.prepare_topic_update(actor=actor, topic=topic, **values)
    return services.submit_request(actor=actor, prepared=prepared)


# --- The web forms' one-time submission key ------------------------------------------------------


class TestWebFormsFileOnce:
    def test_the_same_form_posted_twice_files_one_request(self, member_a, cluster_form):
        client = client_for(member_a)
        url = reverse("clusters:request-new-cluster")
        data = {**cluster_form, "submission_key": key_of(client.get(url))}
        first = client.post(url, data)
        [filed] = Request.objects.all()
        assert first.status_code == 302 and first["Location"] == detail(filed.pk)
        again = client.post(url, data)  # Back + Submit, a double click, a browser re-POST
        assert Request.objects.count() == 1
        assert again.status_code == 302 and again["Location"] == detail(filed.pk)
        assert f"This form was already submitted: here is request #{filed.pk}." in messages_of(again)

    def test_a_repeat_with_changed_input_files_nothing_and_says_what_was_filed(self, member_a, cluster_form):
        client = client_for(member_a)
        url = reverse("clusters:request-new-cluster")
        key = key_of(client.get(url))
        client.post(url, {**cluster_form, "submission_key": key})
        [filed] = Request.objects.all()
        edited = client.post(url, {**cluster_form, "name": "team-a-other", "submission_key": key})
        assert Request.objects.count() == 1
        assert edited.status_code == 200
        page = edited.content.decode()
        assert "This form was already submitted" in page and f'href="{detail(filed.pk)}"' in page
        assert 'value="team-a-other"' in page  # the edit is kept, to be filed on purpose
        fresh = key_of(edited)
        assert fresh != key
        resent = client.post(url, {**cluster_form, "name": "team-a-other", "submission_key": fresh})
        assert resent.status_code == 302 and Request.objects.count() == 2

    def test_a_new_render_of_the_same_request_is_refused_as_a_duplicate(self, member_a, cluster_form):
        client = client_for(member_a)
        url = reverse("clusters:request-new-cluster")
        client.post(url, {**cluster_form, "submission_key": key_of(client.get(url))})
        [filed] = Request.objects.all()
        second = client.post(url, {**cluster_form, "submission_key": key_of(client.get(url))})
        assert Request.objects.count() == 1
        assert second.status_code == 200
        assert second.context["form"].errors["name"] == [
            f"A request for cluster “team-a-prod” in us-east-1 is already waiting for approval: #{filed.pk}."
        ]

    def test_a_page_without_a_valid_key_still_files(self, member_a, cluster_form):
        """A page rendered before the key existed (or a mangled key) files as before; the duplicate rule
        still refuses an identical waiting request."""
        client = client_for(member_a)
        url = reverse("clusters:request-new-cluster")
        assert client.post(url, {**cluster_form, "submission_key": "not-a-key"}).status_code == 302
        assert client.post(url, {**cluster_form, "name": "team-a-two"}).status_code == 302
        refused = client.post(url, {**cluster_form, "name": "team-a-two"})
        assert refused.status_code == 200 and Request.objects.count() == 2

    def test_change_forms_file_once(self, member_a, cluster_a):
        topic = builders.topic(cluster_a)
        client = client_for(member_a)
        changes = [
            (reverse("clusters:request-topic-update", args=[topic.pk]), {"partitions": "6"}),
            (reverse("clusters:request-decommission", args=[cluster_a.pk]), {"justification": "Unused."}),
        ]
        for url, change in changes:
            page = client.get(url)
            data = {**page.context["form"].initial, **change, "submission_key": key_of(page)}
            first = client.post(url, data)
            again = client.post(url, data)
            assert first.status_code == again.status_code == 302, url
            assert first["Location"] == again["Location"], url
        assert Request.objects.count() == 2

    def test_the_access_form_files_once(self, member_a, team_a, cluster_a):
        topic = builders.topic(cluster_a)
        client = client_for(member_a)
        url = reverse("clusters:request-new-access")
        data = {
            "team": team_a.pk,
            "cluster": cluster_a.pk,
            "topic": topic.pk,
            "principal_arn": ROLE,
            "produce": "on",
            "submission_key": key_of(client.get(url)),
        }
        assert client.post(url, data).status_code == client.post(url, data).status_code == 302
        assert Request.objects.count() == 1


@pytest.fixture
def double_click(member_a, cluster_form, monkeypatch):
    """Two POSTs of one rendered page at once, each on its own connection (PostgreSQL), the first still
    validating when the second arrives; returns both answers, in the order the clicks were sent."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    real = forms.ClusterRequestForm.prepare

    def slow(**kwargs):
        time.sleep(0.5)
        return real(**kwargs)

    monkeypatch.setattr(forms.ClusterRequestForm, "prepare", staticmethod(slow))
    url = reverse("clusters:request-new-cluster")
    data = {**cluster_form, "submission_key": key_of(client_for(member_a).get(url))}

    def clicks() -> list:
        barrier = threading.Barrier(2)
        answers = [None, None]

        def click(index: int) -> None:
            client = client_for(member_a)
            barrier.wait(timeout=30)
            time.sleep(index * 0.1)
            try:
                answers[index] = client.post(url, data)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=click, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return answers

    return clicks


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
class TestDoubleClick:
    def test_the_second_click_waits_and_goes_to_the_request_the_first_filed(self, double_click):
        answers = double_click()
        [filed] = Request.objects.all()
        assert [answer.status_code for answer in answers] == [302, 302]
        assert {answer["Location"] for answer in answers} == {detail(filed.pk)}

    def test_a_second_click_that_cannot_wait_goes_to_the_list(self, double_click, settings):
        settings.IDEMPOTENCY_WAIT_SECONDS = 0.1
        first, second = double_click()
        [filed] = Request.objects.all()
        assert first.status_code == 302 and first["Location"] == detail(filed.pk)
        assert second.status_code == 302 and second["Location"] == reverse("clusters:request-list")
        assert messages_of(second) == [
            "This form is still being submitted: its request appears in this list in a moment."
        ]


# --- The duplicate rule at filing (services, forms, API) ---------------------------------------


class TestWaitingTwinsAreRefused:
    def test_a_cluster_name_waiting_for_another_team(
        self, member_a, member_b, team_a, team_b, network_profile
    ):
        waiting = builders.cluster_request(member_a, team_a, network_profile, "shared-name")
        with pytest.raises(ValidationError) as excinfo:
            builders.cluster_request(member_b, team_b, network_profile, "shared-name")
        assert excinfo.value.message_dict["name"] == [
            f"A request for cluster “shared-name” in us-east-1 is already waiting for approval: #{waiting.pk}."
        ]
        services.reject_request(
            request_id=waiting.pk, actor=builders.user("ada", "platform_admin"), reason="no"
        )
        assert builders.cluster_request(member_b, team_b, network_profile, "shared-name").pk

    def test_identical_access_but_not_other_rights(self, member_a, team_a, cluster_a):
        topic = builders.topic(cluster_a)
        waiting = access(member_a, team_a, cluster_a, topic)
        with pytest.raises(ValidationError) as excinfo:
            access(member_a, team_a, cluster_a, topic)
        [message] = excinfo.value.message_dict["principal_arn"]
        assert message.startswith("The same access is already requested") and f"#{waiting.pk}" in message
        assert access(
            member_a, team_a, cluster_a, topic, produce=False, consume=True, consumer_group_prefix="g"
        )

    def test_access_a_role_already_has(self, member_a, team_a, cluster_a):
        topic = builders.topic(cluster_a)
        builders.grant(topic, ROLE)
        with pytest.raises(ValidationError) as excinfo:
            access(member_a, team_a, cluster_a, topic)
        assert "already has this access" in excinfo.value.message_dict["principal_arn"][0]

    def test_a_second_waiting_change_of_a_topic(self, member_a, cluster_a):
        topic = builders.topic(cluster_a)
        waiting = topic_change(member_a, topic, partitions=6)
        with pytest.raises(ValidationError) as excinfo:
            topic_change(member_a, topic, retention_ms=86_400_000)
        [message] = excinfo.value.message_dict["topic"]
        assert f"A change to {topic.name} is already waiting for approval: #{waiting.pk}." in message

    def test_the_same_removal_of_one_object(self, member_a, cluster_a):
        topic = builders.topic(cluster_a)
        grant = builders.grant(topic, ROLE)
        removals = [
            (services.prepare_topic_delete, {"topic": topic}, "topic", "The deletion of team-a.existing"),
            (services.prepare_access_revoke, {"grant": grant}, "grant", f"The removal of {ROLE}'s access"),
            (
                services.prepare_cluster_decommission,
                {"cluster": cluster_a},
                "cluster",
                "The decommissioning of",
            ),
        ]
        for prepare, target, field, words in removals:
            waiting = builders.submit(member_a, prepare(actor=member_a, justification="gone", **target))
            with pytest.raises(ValidationError) as excinfo:
                prepare(actor=member_a, justification="gone again", **target)
            [message] = excinfo.value.message_dict[field]
            assert message.startswith(words) and f"is already waiting for approval: #{waiting.pk}." in message

    def test_two_submissions_prepared_together_file_once(self, member_a, team_a, cluster_a):
        """Both passed prepare's check before either was saved: the lock at submission catches the second."""
        topic = builders.topic(cluster_a)
        first, second = (access_prepared(member_a, team_a, cluster_a, topic) for _ in range(2))
        services.submit_request(actor=member_a, prepared=first)
        with pytest.raises(ValidationError):
            services.submit_request(actor=member_a, prepared=second)
        assert Request.objects.count() == 1


class TestApi:
    def test_a_retry_replays_and_a_twin_is_a_400_naming_the_waiting_request(
        self, member_a, team_a, cluster_a, token_for
    ):
        topic = builders.topic(cluster_a)
        client = client_for(None)
        headers = {"Authorization": f"Bearer {token_for(member_a)}"}
        body = {
            "team": team_a.slug,
            "cluster": cluster_a.pk,
            "topic": topic.pk,
            "principal_arn": ROLE,
            "produce": True,
        }

        def post(key: str):
            return client.post(
                reverse("clusters-api:request-access"),
                body,
                content_type="application/json",
                headers={**headers, "Idempotency-Key": key},
            )

        first, retried, other = post("k-1"), post("k-1"), post("k-2")
        assert first.status_code == retried.status_code == 201
        assert retried["Idempotent-Replayed"] == "true" and retried.json()["id"] == first.json()["id"]
        assert other.status_code == 400
        error = other.json()
        assert error["code"] == "invalid" and f"#{first.json()['id']}" in error["message"]
        assert list(error["field_errors"]) == ["principal_arn"]
        assert Request.objects.count() == 1


# --- Approval checks again ---------------------------------------------------------------------


class TestApprovalChecksAgain:
    def test_identical_access_is_granted_once(self, member_a, admin, team_a, cluster_a):
        topic = builders.topic(cluster_a)
        first = access(member_a, team_a, cluster_a, topic)
        second = builders.waiting_copy(first)
        services.approve_request(request_id=first.pk, actor=admin)
        with pytest.raises(Conflict) as excinfo:
            services.approve_request(request_id=second.pk, actor=admin)
        assert "already has this access" in excinfo.value.message
        assert f"request #{first.pk}" in excinfo.value.message
        assert AccessGrant.objects.count() == 1
        assert Request.objects.get(pk=second.pk).status == Request.Status.SUBMITTED

    def test_the_approval_page_says_why(self, member_a, admin, team_a, cluster_a):
        topic = builders.topic(cluster_a)
        first = access(member_a, team_a, cluster_a, topic)
        second = builders.waiting_copy(first)
        client = client_for(admin)
        client.post(reverse("clusters:request-approve", args=[first.pk]))
        refused = client.post(reverse("clusters:request-approve", args=[second.pk]))
        assert refused.status_code == 302 and refused["Location"] == detail(second.pk)
        *_, message = messages_of(refused)  # the first approval's message comes first
        assert message.startswith("This request no longer fits: ") and "already has this access" in message
        assert f"(request #{first.pk})" in message
        assert AccessGrant.objects.count() == 1

    def test_a_topic_change_is_not_approved_twice_nor_over_another(self, member_a, admin, cluster_a):
        topic = builders.topic(cluster_a)
        more = topic_change(member_a, topic, partitions=6)
        same = builders.waiting_copy(more)
        services.approve_request(request_id=more.pk, actor=admin)
        with pytest.raises(Conflict) as excinfo:
            services.approve_request(request_id=same.pk, actor=admin)
        assert f"already has these settings (request #{more.pk})" in excinfo.value.message
        # A change filed against the topic as it was would put it back to 3 partitions.
        stale = builders.waiting_copy(more)
        stale.payload = {**more.payload, "partitions": 3, "changes": {"retention.ms": [604800000, 1]}}
        stale.payload["configs"] = {**more.payload["configs"], "retention.ms": 1}
        stale.save()
        with pytest.raises(Conflict) as excinfo:
            services.approve_request(request_id=stale.pk, actor=admin)
        assert f"changed since this request was filed (request #{more.pk})" in excinfo.value.message
        topic.refresh_from_db()
        assert topic.partitions == 6 and topic.configs["retention.ms"] == 604800000

    def test_a_removal_is_approved_once(self, member_a, admin, cluster_a):
        topic = builders.topic(cluster_a)
        prepared = services.prepare_topic_delete(actor=member_a, topic=topic, justification="gone")
        first = services.submit_request(actor=member_a, prepared=prepared)
        second = builders.waiting_copy(first)
        services.approve_request(request_id=first.pk, actor=admin)
        with pytest.raises(Conflict) as excinfo:
            services.approve_request(request_id=second.pk, actor=admin)
        assert f"already approved: request #{first.pk}" in excinfo.value.message
        assert Request.objects.get(pk=second.pk).status == Request.Status.SUBMITTED
