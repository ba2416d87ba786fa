"""Human text in REST answers follows Accept-Language, else the signed-in user's saved language; codes never change."""

from __future__ import annotations

from tests.helpers.app import Client


async def register(client: Client, email: str) -> str:
    body = {"email": email, "password": "Blue-Heron-Lantern-42"}
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status == 200
    token: str = (await response.json())["access_token"]
    return token


async def test_error_detail_follows_accept_language_and_code_does_not(client: Client) -> None:
    await register(client, "taken@example.org")
    body = {"email": "taken@example.org", "password": "Blue-Heron-Lantern-42"}
    english = await client.post("/api/v1/auth/register", json=body)
    russian = await client.post("/api/v1/auth/register", json=body, headers={"Accept-Language": "ru-RU,en;q=0.8"})
    assert english.status == russian.status == 409
    english_body, russian_body = await english.json(), await russian.json()
    assert english_body["detail"] == "Email already registered"
    assert russian_body["detail"] == "Этот адрес электронной почты уже зарегистрирован"
    assert english_body["error_code"] == russian_body["error_code"] == "EMAIL_TAKEN"
    missing = await client.get("/nowhere", headers={"Accept-Language": "ru"})
    assert (await missing.json())["detail"] == "Не найдено"


async def test_a_signed_in_users_saved_language_is_the_fallback(client: Client) -> None:
    token = await register(client, "ru@example.org")
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.put("/api/v1/auth/profile", json={"language": "ru"}, headers=auth)).status == 200
    answer = await client.delete("/api/v1/auth/sessions/nope", headers=auth)
    assert answer.status == 404
    assert (await answer.json())["detail"] == "Сеанс не найден"
    # An explicit Accept-Language still wins.
    answer = await client.delete("/api/v1/auth/sessions/nope", headers={**auth, "Accept-Language": "en"})
    assert (await answer.json())["detail"] == "Session not found"
