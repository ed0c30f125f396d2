"""The fake Notion itself, checked through the real notion-client SDK: if the fake is lenient
where Notion is strict, the mirror's tests prove nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import notion_client
import pytest
from notion_client.errors import (
    APIResponseError,
    RequestTimeoutError,
    UnknownHTTPResponseError,
)

from fakes.notion import FakeNotion, Fault


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion() as server:
        yield server


def sdk(fake: FakeNotion, token: str | None = None, timeout_ms: int = 5000) -> notion_client.Client:
    return notion_client.Client(auth=token or fake.token, base_url=fake.url, retry=False, timeout_ms=timeout_ms)


def text(s: str) -> dict[str, Any]:
    return {"rich_text": [{"type": "text", "text": {"content": s}}]}


def create(client: notion_client.Client, fake: FakeNotion, **props: Any) -> dict[str, Any]:
    return client.pages.create(parent={"type": "data_source_id", "data_source_id": fake.data_source_id},
                               properties=props)


def test_database_and_data_source(fake: FakeNotion) -> None:
    client = sdk(fake)
    db = client.databases.retrieve(database_id=fake.database_id.replace("-", ""))
    assert db["data_sources"][0]["id"] == fake.data_source_id
    ds = client.data_sources.retrieve(data_source_id=fake.data_source_id)
    assert ds["properties"]["Tempo"]["type"] == "number"
    client.data_sources.update(data_source_id=fake.data_source_id, properties={"Genre": {"select": {}}})
    assert fake.schema_types()["Genre"] == "select"
    with pytest.raises(APIResponseError) as caught:
        client.data_sources.update(data_source_id=fake.data_source_id, properties={"Name2": {"title": {}}})
    assert caught.value.code == "validation_error"


def test_auth_and_version_are_required(fake: FakeNotion) -> None:
    with pytest.raises(APIResponseError) as caught:
        sdk(fake, token="nope").databases.retrieve(database_id=fake.database_id)
    assert caught.value.status == 401 and caught.value.code == "unauthorized"
    raw = httpx.get(f"{fake.url}/v1/databases/{fake.database_id}", headers={"Authorization": f"Bearer {fake.token}"})
    assert raw.status_code == 400 and raw.json()["code"] == "missing_version"
    assert raw.json()["object"] == "error"


def test_property_validation(fake: FakeNotion) -> None:
    client = sdk(fake)
    bad: list[dict[str, Any]] = [
        {"Artist Name": text("x" * 2001)},
        {"Artist Name": {"rich_text": [{"type": "text", "text": {"content": "a"}}] * 101}},
        {"SoundCloud URL": {"url": "https://a/" + "b" * 2000}},
        {"Tempo": {"number": "126"}},
        {"Tempo": text("126")},  # wrong type for the property
        {"Downloaded": {"checkbox": "yes"}},
        {"Playlists": {"multi_select": [{"name": "a,b"}]}},
        {"Playlists": {"multi_select": [{"name": str(i)} for i in range(101)]}},
        {"No Such Property": text("x")},
    ]
    for props in bad:
        with pytest.raises(APIResponseError) as caught:
            create(client, fake, **props)
        assert caught.value.status == 400 and caught.value.code == "validation_error", props
    # 2000 UTF-16 units is the limit: 1000 emoji are 2000 units and fit, 1001 do not
    create(client, fake, **{"Artist Name": text("\U0001F3B5" * 1000)})
    with pytest.raises(APIResponseError):
        create(client, fake, **{"Artist Name": text("\U0001F3B5" * 1001)})
    assert len(fake.live_pages()) == 1


def test_options_and_status(fake: FakeNotion) -> None:
    client = sdk(fake)
    client.data_sources.update(data_source_id=fake.data_source_id, properties={"State": {"status": {}}})
    page = create(client, fake, Playlists={"multi_select": [{"name": "Warmup"}]}, State={"status": {"name": "Done"}})
    assert page["properties"]["Playlists"]["multi_select"][0]["name"] == "Warmup"
    with pytest.raises(APIResponseError, match="does not exist"):
        create(client, fake, State={"status": {"name": "built"}})


def test_query_filters_sorts_and_pagination(fake: FakeNotion) -> None:
    for i in range(7):
        fake.seed_page({"Title": f"t{i}", "Tempo": float(i), "Downloaded": i % 2 == 0,
                        "SoundCloud URL": f"https://s/{i}" if i < 5 else None})
    client = sdk(fake)
    ds = fake.data_source_id

    def all_titles(**body: Any) -> list[str]:
        out, cursor = [], None
        while True:
            page = client.data_sources.query(data_source_id=ds, page_size=2, start_cursor=cursor, **body)
            out += [r["properties"]["Title"]["title"][0]["plain_text"] for r in page["results"]]
            assert len(page["results"]) <= 2
            if not page["has_more"]:
                return out
            cursor = page["next_cursor"]

    by_tempo = [{"property": "Tempo", "direction": "ascending"}]
    assert all_titles(sorts=by_tempo) == [f"t{i}" for i in range(7)]
    flt = {"and": [{"property": "SoundCloud URL", "url": {"is_not_empty": True}},
                   {"property": "Downloaded", "checkbox": {"equals": True}}]}
    assert all_titles(filter=flt, sorts=by_tempo) == ["t0", "t2", "t4"]
    either = {"or": [{"property": "Title", "title": {"equals": "t6"}},
                     {"property": "SoundCloud URL", "url": {"equals": "https://s/1"}}]}
    assert sorted(all_titles(filter=either)) == ["t1", "t6"]
    assert all_titles(filter={"property": "SoundCloud URL", "url": {"is_empty": True}}, sorts=by_tempo) == ["t5", "t6"]
    with pytest.raises(APIResponseError):  # the filter's type must be the property's
        client.data_sources.query(data_source_id=ds, filter={"property": "Tempo", "rich_text": {"equals": "1"}})
    with pytest.raises(APIResponseError):
        client.data_sources.query(data_source_id=ds, page_size=101)


def test_trash_and_eventual_consistency(fake: FakeNotion) -> None:
    client = sdk(fake)
    fake.hide_new_pages_for = 0.3
    page = create(client, fake, Title={"title": [{"text": {"content": "new"}}]})
    assert page["created_time"].endswith(":00.000Z")  # minute precision, like Notion
    assert client.data_sources.query(data_source_id=fake.data_source_id)["results"] == []
    assert client.pages.retrieve(page_id=page["id"])["id"] == page["id"]  # direct reads see it
    time.sleep(0.35)
    assert len(client.data_sources.query(data_source_id=fake.data_source_id)["results"]) == 1
    client.pages.update(page_id=page["id"], in_trash=True)
    assert client.data_sources.query(data_source_id=fake.data_source_id)["results"] == []
    with pytest.raises(APIResponseError, match="archived"):
        client.pages.update(page_id=page["id"], properties={"Tempo": {"number": 1}})
    with pytest.raises(APIResponseError) as caught:
        client.pages.retrieve(page_id="0" * 32)
    assert caught.value.status == 404 and caught.value.code == "object_not_found"


def test_rate_limit_answers_429_with_integer_retry_after(fake: FakeNotion) -> None:
    fake.set_rate_limit(3.0, burst=3)
    client = sdk(fake)
    for _ in range(3):
        client.databases.retrieve(database_id=fake.database_id)
    with pytest.raises(APIResponseError) as caught:
        client.databases.retrieve(database_id=fake.database_id)
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert caught.value.headers["retry-after"] == "1"


def test_injected_faults(fake: FakeNotion) -> None:
    client = sdk(fake, timeout_ms=300)
    fake.inject(Fault.bad_gateway(), Fault.overloaded(retry_after=2), Fault.conflict(method="POST"))
    with pytest.raises(UnknownHTTPResponseError) as caught:  # not JSON: the SDK cannot parse it
        client.databases.retrieve(database_id=fake.database_id)
    assert caught.value.status == 502 and "<html>" in caught.value.body
    with pytest.raises(UnknownHTTPResponseError) as caught:
        client.databases.retrieve(database_id=fake.database_id)
    assert caught.value.status == 529 and caught.value.headers["retry-after"] == "2"
    client.databases.retrieve(database_id=fake.database_id)  # the 409 waits for a POST
    with pytest.raises(APIResponseError) as conflict:
        create(client, fake)
    assert conflict.value.code == "conflict_error" and fake.live_pages() == []
    fake.inject(Fault.timeout_after_apply(0.6))
    with pytest.raises(RequestTimeoutError):
        create(client, fake)
    assert len(fake.live_pages()) == 1  # created all the same
    assert [r.fault != "" for r in fake.requests].count(True) == 4
