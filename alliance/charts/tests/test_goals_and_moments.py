"""Goals and moments on the chart: the client's ratings, victories and breakthroughs, in the
picture, in words and in the PDF, and never a moment the reader may not see."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alliance.accounts.models import Membership
from alliance.agency.models import Goal, GoalRating, GoalStatus, Moment, Visibility
from alliance.agency.readiness import GOAL_ATTAINED
from alliance.charts.layout import BREAKTHROUGH, VICTORY
from alliance.charts.tests.test_chart_page import NS, _queries, add_scores, chart_url, images
from alliance.charts.tests.test_chart_page import pdf_text as pdf_of
from alliance.clients.models import Episode
from conftest import World, signed_in

pytestmark = pytest.mark.django_db

GOALS_TITLE = "Goals (0-10, the client's own rating)"
ROW = r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td><td>([^<]+)</td>'


def add_goal(
    world: World,
    text: str,
    ratings: list[int],
    *,
    retired: bool = False,
    episode: Episode | None = None,
) -> Goal:
    episode = episode or world.own_episode
    start = timezone.now() - timedelta(weeks=len(ratings) + 1)
    goal = Goal.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=episode,
        text=text,
        status=GoalStatus.RETIRED if retired else GoalStatus.ACTIVE,
        written_by="client",
        created_at=start,
    )
    for i, rating in enumerate(ratings):
        GoalRating.objects.create(
            organisation=world.org,
            client=world.own_client,
            episode=episode,
            goal=goal,
            rating=rating,
            rated_at=start + timedelta(weeks=i + 1),
            source="client",
        )
    return goal


def add_moment(
    world: World,
    kind: str,
    text: str,
    *,
    goal: Goal | None = None,
    only_for: Membership | None = None,
    days_ago: int = 5,
    episode: Episode | None = None,
) -> Moment:
    return Moment.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=episode or world.own_episode,
        kind=kind,
        text=text,
        happened_on=timezone.localdate() - timedelta(days=days_ago),
        goal=goal,
        written_by="client",
        visibility=Visibility.THERAPIST if only_for else Visibility.TEAM,
        therapist=only_for,
        created_at=timezone.now(),
    )


def svg_named(body: str, title_start: str) -> ET.Element:
    for image in images(body):
        title = image.find(f"{NS}title")
        if title is not None and (title.text or "").startswith(title_start):
            return image
    raise AssertionError(f"no chart titled {title_start!r}")


def texts(image: ET.Element) -> list[str]:
    return [t.text or "" for t in image.iter(f"{NS}text")]


def mark_titles(image: ET.Element) -> list[str]:
    """The words of every titled mark (a <g> with a <title>) in the drawing."""
    found = []
    for group in image.iter(f"{NS}g"):
        title = group.find(f"{NS}title")
        if title is not None:
            found.append(title.text or "")
    return found


def chart_body(world: World, member: str = "clinician") -> str:
    response = signed_in(getattr(world, member)).get(chart_url(world.own_client))
    assert response.status_code == 200
    return response.content.decode()


def pdf(world: World, member: str = "clinician") -> str:
    url = reverse("client_chart_pdf", args=[world.own_client.pk])
    response = signed_in(getattr(world, member)).get(url)
    assert response.status_code == 200
    return pdf_of(response.content)


def test_it_draws_one_line_per_goal_in_a_goals_panel_after_the_scores(world):
    add_scores(world.own_episode, [18, 14, 12])
    add_scores(world.own_episode, [30, 34], instrument="alliance-session-check")
    add_goal(world, "Sleep through the night", [2, 4, 7])
    add_goal(world, "Go back to the choir", [5, 3], retired=True)
    body = chart_body(world)
    titles = [(i.findtext(f"{NS}title") or "").split(" over time")[0] for i in images(body)]
    assert [t.split(" scores")[0] for t in titles] == [
        "PHQ-9",
        GOALS_TITLE,
        "Alliance session check",
    ]
    goals = svg_named(body, GOALS_TITLE)
    lines = list(goals.iter(f"{NS}polyline"))
    assert len(lines) == 2
    assert len({line.get("stroke") for line in lines}) == 2
    assert len({line.get("stroke-dasharray") for line in lines}) == 2  # not colour alone
    labels = texts(goals)
    assert "Sleep through the night" in labels
    assert "Go back to the choir (retired)" in labels
    assert f"attained: {GOAL_ATTAINED} or more" in labels
    assert "Sleep through the night: 7 on" in " ".join(mark_titles(goals))
    desc = goals.find(f"{NS}desc")
    assert desc is not None
    assert "Sleep through the night rose from 2 on" in (desc.text or "")
    assert "<h2>Goals (0-10, the client&#x27;s own rating)</h2>" in body


def test_the_ratings_are_also_a_table(world):
    add_goal(world, "Sleep through the night", [2, 4, 7])
    add_goal(world, "Go back to the choir", [5], retired=True)
    body = chart_body(world)
    assert "Goal ratings (0-10, the client's own rating): 4</caption>" in body
    rows = [(goal, rating) for _, goal, rating in re.findall(ROW, body)]
    assert ("Sleep through the night", "7") in rows
    assert ("Go back to the choir (retired)", "5") in rows


def test_a_long_goal_is_shortened_on_the_chart_and_whole_in_the_summary(world):
    words = "Be able to take the bus to my sister's house on my own without panicking"
    add_goal(world, words, [3, 6])
    body = chart_body(world)
    goals = svg_named(body, GOALS_TITLE)
    (label,) = [t for t in texts(goals) if t.startswith("Be able")]
    assert label.endswith("…")
    assert len(label) <= 33
    assert words.replace("'", "&#x27;") in body


def test_the_attainment_summary_counts_active_goals_at_the_threshold(world):
    add_goal(world, "Sleep through the night", [2, GOAL_ATTAINED])
    add_goal(world, "Cook a meal for friends", [4, 6, GOAL_ATTAINED + 1])
    add_goal(world, "Walk every morning", [6, GOAL_ATTAINED - 3])
    add_goal(world, "Go back to the choir", [10], retired=True)  # not counted
    add_goal(world, "Phone my brother", [])
    body = chart_body(world)
    assert "2 of 4 goals rated 8 or more" in body
    assert "retired goals are not counted" in body
    summary = body.split('id="chart-goals-heading"')[1].split("</section>")[0]
    assert '<th scope="row">Cook a meal for friends</th><td>4</td><td>9</td><td>+5</td>' in summary
    assert '<th scope="row">Walk every morning</th><td>6</td><td>5</td><td>-1</td>' in summary
    assert '<th scope="row">Go back to the choir (retired)</th><td>10</td>' in summary
    assert "<td>—</td><td>—</td><td>not rated yet</td>" in summary


def test_moments_are_marked_on_every_panel_with_their_own_shape_and_words(world):
    add_scores(world.own_episode, [18, 12])
    goal = add_goal(world, "Sleep through the night", [3, 6])
    add_moment(world, "victory", "Slept six hours straight", goal=goal, days_ago=6)
    add_moment(world, "breakthrough", "Saw the pattern with my dad", days_ago=2)
    body = chart_body(world)
    for image in (svg_named(body, "PHQ-9"), svg_named(body, GOALS_TITLE)):
        titles = mark_titles(image)
        victory = next(t for t in titles if "Slept six hours straight" in t)
        assert victory.startswith("Small victory on ")
        assert victory.endswith("(goal: Sleep through the night)")
        assert any(t.startswith("Breakthrough on ") and "my dad" in t for t in titles)
        fills = {
            p.get("fill"): len((p.get("points") or "").split())
            for g in image.iter(f"{NS}g")
            if "Slept" in (g.findtext(f"{NS}title") or "")
            or "dad" in (g.findtext(f"{NS}title") or "")
            for p in g.iter(f"{NS}polygon")
        }
        assert fills == {VICTORY: 10, BREAKTHROUGH: 7}  # a star and an arrow
        assert {"moments", "small victory", "breakthrough"} <= set(texts(image))
        assert "1 small victory and 1 breakthrough" in (image.findtext(f"{NS}desc") or "")


def test_moments_are_listed_as_a_timeline_below_the_charts(world):
    goal = add_goal(world, "Sleep through the night", [3])
    add_moment(world, "breakthrough", "Saw the pattern with my dad", days_ago=2)
    add_moment(world, "victory", "Slept six hours straight", goal=goal, days_ago=6)
    body = chart_body(world)
    section = body.split('id="chart-moments-heading"')[1].split("</section>")[0]
    assert "Small victories and breakthroughs" in section
    rows = re.findall(ROW, section)
    assert [(kind, words) for _, kind, words in rows] == [
        ("Small victory", "Slept six hours straight"),
        ("Breakthrough", "Saw the pattern with my dad"),
    ]
    assert "<td>Sleep through the night</td>" in section
    victory_day = timezone.localdate() - timedelta(days=6)
    assert rows[0][0] == f"{victory_day.day} {victory_day:%b %Y}"


def test_an_episode_without_moments_says_so(world):
    add_scores(world.own_episode, [18])
    body = chart_body(world)
    assert "None recorded in this episode yet." in body
    assert mark_titles(images(body)[0]) == []
    assert "moments" not in texts(images(body)[0])


def test_the_pdf_has_the_goals_the_marker_row_and_the_moments(world):
    add_scores(world.own_episode, [18, 12])
    goal = add_goal(world, "Sleep through the night", [3, GOAL_ATTAINED])
    add_moment(world, "victory", "Slept-six-hours-straight", goal=goal)
    add_moment(world, "breakthrough", "Saw-the-pattern-with-my-dad")
    text = pdf(world)
    assert "(moments) Tj" in text  # the marker row's label, on each panel
    assert text.count("(moments) Tj") == 2
    assert "(Goal attainment: 1 of 1 goals rated 8 or more) Tj" in text
    assert "(Small victories and breakthroughs) Tj" in text
    assert "Slept-six-hours-straight" in text
    assert "Saw-the-pattern-with-my-dad" in text
    assert "(Sleep through the night) Tj" in text
    assert "(small victory) Tj" in text
    assert "(Goals \\(0-10, the client's own rating\\) over time for" in text


def test_long_words_wrap_in_the_pdf_table(world):
    words = " ".join(["Walked-all-the-way"] * 30)
    add_moment(world, "victory", words)
    text = pdf(world)
    assert words not in text  # not one line running off the page
    assert text.count("Walked-all-the-way") == 30


def test_a_moment_kept_for_the_therapist_is_on_no_one_elses_chart_or_pdf(world):
    add_scores(world.own_episode, [18, 12])
    add_moment(world, "breakthrough", "Kept-for-my-therapist", only_for=world.clinician)
    add_moment(world, "victory", "Shared-with-the-team")
    for member in ("clinician", "consultant", "coordinator"):
        body, text = chart_body(world, member), pdf(world, member)
        assert "Shared-with-the-team" in body
        assert "Shared-with-the-team" in text
        mine = member == "clinician"
        assert ("Kept-for-my-therapist" in body) is mine
        assert ("Kept-for-my-therapist" in text) is mine
        titles = " ".join(mark_titles(svg_named(body, "PHQ-9")))
        assert ("Kept-for-my-therapist" in titles) is mine
        assert ("Breakthrough" in titles) is mine  # no mark without its words, either
    assert "(breakthrough) Tj" not in pdf(world, "consultant")


def test_goals_and_moments_of_another_episode_stay_on_its_chart(world):
    old = Episode.objects.create(
        organisation=world.org,
        client=world.own_client,
        opened_on=world.own_episode.opened_on - timedelta(weeks=30),
        closed_on=world.own_episode.opened_on - timedelta(weeks=10),
        phase="closed",
    )
    add_goal(world, "An-old-goal", [4, 6], episode=old)
    add_moment(world, "victory", "An-old-victory", episode=old, days_ago=200)
    add_goal(world, "A-new-goal", [2])
    body = chart_body(world)
    assert "An-old-goal" not in body
    assert "An-old-victory" not in body
    assert "A-new-goal" in body
    older = signed_in(world.clinician).get(chart_url(world.own_client, episode=old.pk))
    assert "An-old-victory" in older.content.decode()


def test_the_goals_panel_shares_the_time_axis_of_the_scores(world):
    add_scores(world.own_episode, [18, 14, 12])
    add_goal(world, "Sleep through the night", [2, 5])
    add_moment(world, "victory", "Slept well", days_ago=20)
    body = chart_body(world)

    def ticks(image: ET.Element) -> list[tuple[str | None, str]]:
        return [
            (t.get("x"), t.text or "")
            for t in image.iter(f"{NS}text")
            if re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", t.text or "")
        ]

    phq9, goals = svg_named(body, "PHQ-9"), svg_named(body, GOALS_TITLE)
    assert ticks(phq9)
    assert ticks(phq9) == ticks(goals)


def test_a_hostile_goal_or_moment_stays_text(world):
    hostile = "<script>alert(1)</script>"
    goal = add_goal(world, hostile, [3, 4])
    add_moment(world, "victory", hostile, goal=goal)
    add_scores(world.own_episode, [18, 12])
    body = chart_body(world)
    assert hostile not in body
    for image in images(body):
        assert [e for e in image.iter() if e.tag.removeprefix(NS) == "script"] == []
        assert any(hostile in t for t in mark_titles(image))
    text = pdf(world)
    assert "(<script>alert\\(1\\)</script>) Tj" in text  # a table cell: drawn as letters
    assert "(script) Tj (>) Tj (alert\\(1\\)) Tj" in text  # a paragraph: escaped, then drawn


@pytest.mark.parametrize("route", ["client_chart", "client_chart_pdf"])
def test_the_number_of_queries_does_not_grow_with_goals_or_moments(world, route):
    http = signed_in(world.clinician)
    url = reverse(route, args=[world.own_client.pk])
    add_scores(world.own_episode, [18, 9])
    first = add_goal(world, "Sleep through the night", [3])
    add_moment(world, "victory", "Slept well", goal=first)
    _queries(http, url)  # the first audit entry of a clinic also creates its chain head
    few = _queries(http, url)
    for n in range(4):
        goal = add_goal(world, f"Goal number {n}", [n, n + 2, n + 4], retired=n == 3)
        add_moment(world, "breakthrough", f"Moment {n}", goal=goal, days_ago=n + 1)
        add_moment(world, "victory", f"Victory {n}", days_ago=n + 2)
    add_moment(world, "victory", "Kept", only_for=world.clinician)
    assert _queries(http, url) == few
