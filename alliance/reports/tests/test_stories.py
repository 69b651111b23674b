"""Consented stories: the client offers words from their link with consent; nothing is shared
until the care team reviews and de-identifies them; withdrawal removes the words everywhere."""

from __future__ import annotations

from django.test import Client as HttpClient
from django.utils import timezone

from alliance.audit.models import AuditEntry, Outcome
from alliance.measures import actions
from alliance.reports.access import reporting_scope
from alliance.reports.models import Story, StoryStatus
from alliance.reports.query import Query, Scope
from alliance.reports.stories import shared_stories
from conftest import signed_in

WORDS = "I went back to the allotment with Maria in Leeds and grew tomatoes again."
SHARED = "I went back to the allotment and grew tomatoes again."
PERIOD = {
    "start": "2025-01-01",
    "end": "2026-11-01",
    "group_by": "organisation",
    "measure": "paired",
}


def _token(world) -> str:
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    return token


def test_client_offers_a_story_only_with_consent(world):
    token = _token(world)
    client = HttpClient()
    page = client.get(f"/m/{token}/story/")
    assert page.status_code == 200
    assert "Share your story" in page.content.decode()
    refused = client.post(f"/m/{token}/story/", {"words": WORDS})
    assert refused.status_code == 400
    assert "Tick the box" in refused.content.decode()
    assert WORDS in refused.content.decode()
    assert not Story.objects.exists()
    empty = client.post(f"/m/{token}/story/", {"words": "   ", "consent": "on"})
    assert empty.status_code == 400
    assert not Story.objects.exists()
    sent = client.post(f"/m/{token}/story/", {"words": WORDS, "consent": "on"})
    assert sent.status_code == 302
    story = Story.objects.get()
    assert story.status == StoryStatus.OFFERED
    assert story.words == WORDS
    entry = AuditEntry.objects.get(action="story.offer")
    assert entry.client_id == world.own_client.pk
    assert WORDS not in str(entry.detail)


def test_review_shares_only_the_deidentified_words_in_the_report(world):
    token = _token(world)
    HttpClient().post(f"/m/{token}/story/", {"words": WORDS, "consent": "on"})
    story = Story.objects.get()
    clinician = signed_in(world.clinician)
    page = clinician.get(f"/clients/{world.own_client.pk}/stories/")
    assert WORDS in page.content.decode()
    url = f"/clients/{world.own_client.pk}/stories/{story.pk}/review/"
    # The reviewer must confirm the de-identification.
    clinician.post(url, {"decision": "share", "shared_text": SHARED, "version": story.version})
    assert Story.objects.get().status == StoryStatus.OFFERED
    clinician.post(
        url,
        {
            "decision": "share",
            "shared_text": SHARED,
            "deidentified": "on",
            "version": story.version,
        },
    )
    story.refresh_from_db()
    assert story.status == StoryStatus.SHARED
    assert story.shared_text == SHARED
    report = signed_in(world.admin).get("/reports/outcomes/", PERIOD).content.decode()
    assert SHARED in report
    assert "Maria" not in report
    assert "Leeds" not in report
    assert world.own_client.display_name not in report


def test_other_teams_cannot_review(world):
    token = _token(world)
    HttpClient().post(f"/m/{token}/story/", {"words": WORDS, "consent": "on"})
    story = Story.objects.get()
    outsider = signed_in(world.colleague)  # not on this client's care team
    assert outsider.get(f"/clients/{world.own_client.pk}/stories/").status_code == 404
    outsider.post(
        f"/clients/{world.own_client.pk}/stories/{story.pk}/review/",
        {"decision": "share", "shared_text": SHARED, "deidentified": "on", "version": 1},
    )
    assert Story.objects.get().status == StoryStatus.OFFERED
    assert AuditEntry.objects.filter(action="story.review", outcome=Outcome.DENIED).exists()


def test_withdrawal_by_the_client_removes_the_words_everywhere(world):
    token = _token(world)
    link_client = HttpClient()
    link_client.post(f"/m/{token}/story/", {"words": WORDS, "consent": "on"})
    story = Story.objects.get()
    signed_in(world.clinician).post(
        f"/clients/{world.own_client.pk}/stories/{story.pk}/review/",
        {"decision": "share", "shared_text": SHARED, "deidentified": "on", "version": 1},
    )
    response = link_client.post(f"/m/{token}/story/{story.pk}/withdraw/")
    assert response.status_code == 302
    story.refresh_from_db()
    assert story.status == StoryStatus.WITHDRAWN
    assert story.words == ""
    assert story.shared_text == ""
    report = signed_in(world.admin).get("/reports/outcomes/", PERIOD).content.decode()
    assert SHARED not in report
    assert WORDS not in link_client.get(f"/m/{token}/story/").content.decode()
    # Another client's link cannot withdraw it (404, nothing changes).
    _, other = actions.do_create_link(
        world.actor(world.colleague),
        world.other_team_encounter.pk,
        timing="before",
        send_email=False,
    )
    assert HttpClient().post(f"/m/{other}/story/{story.pk}/withdraw/").status_code == 404


def test_clinician_withdraws_at_the_clients_request(world):
    token = _token(world)
    HttpClient().post(f"/m/{token}/story/", {"words": WORDS, "consent": "on"})
    story = Story.objects.get()
    signed_in(world.clinician).post(f"/clients/{world.own_client.pk}/stories/{story.pk}/withdraw/")
    story.refresh_from_db()
    assert story.status == StoryStatus.WITHDRAWN
    assert story.words == ""


def test_an_unknown_link_offers_nothing(world):
    response = HttpClient().get("/m/not-a-real-token-at-all-0000000000/story/")
    assert response.status_code == 404
    assert (
        HttpClient()
        .post("/m/not-a-real-token-at-all-0000000000/story/", {"words": WORDS, "consent": "on"})
        .status_code
        == 404
    )
    assert not Story.objects.exists()


def test_the_report_shows_the_stories_of_the_scope_it_was_run_for(world):
    """shared_stories takes the run's scope (access_report's), not the actor again: a team the
    scope leaves out, or another clinic, shows none of its stories."""
    for episode, text in [
        (world.own_episode, "own team"),
        (world.other_team_episode, "other team"),
        (world.other_org_episode, "other clinic"),
    ]:
        Story.objects.create(
            organisation_id=episode.organisation_id,
            client_id=episode.client_id,
            episode=episode,
            words=WORDS,
            consented_at=timezone.now(),
            status=StoryStatus.SHARED,
            shared_text=text,
            reviewed_at=timezone.now(),
        )
    query = Query(timezone.localdate(), timezone.localdate())
    org = world.org.pk
    assert set(shared_stories(Scope(org, None), query)) == {"own team", "other team"}
    assert shared_stories(Scope(org, [world.other_team.pk]), query) == ["other team"]
    assert shared_stories(Scope(org, []), query) == []
    assert shared_stories(Scope(world.other_org.pk, None), query) == ["other clinic"]
    coordinator = reporting_scope(world.actor(world.coordinator)).scope
    assert shared_stories(coordinator, query) == ["own team"]
    team_filter = Query(timezone.localdate(), timezone.localdate(), team=world.team.pk)
    assert shared_stories(Scope(org, [world.other_team.pk]), team_filter) == []
