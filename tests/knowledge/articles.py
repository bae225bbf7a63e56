"""Help articles the knowledge tests share, and a helper to publish one through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

CARD = {
    "title": "When will my new card arrive?",
    "body": "## Delivery\nCards are posted within 2 working days and usually arrive in 3-5 working days.\n\n"
    "## Not arrived yet?\nIf your card has not arrived after 10 working days, report it as lost in the app "
    "and we will send a replacement free of charge.",
    "audience": "public",
    "status": "published",
    "tags": ["cards"],
    "example_questions": ["My card still hasn't come", "How long does card delivery take?"],
}
PIN = {
    "title": "Changing your PIN",
    "body": "You can change your PIN at any cash machine: insert your card, choose PIN services and follow "
    "the steps. The new PIN works straight away.",
    "status": "published",
    "example_questions": ["How do I change my PIN?", "I want a different PIN number"],
}
LOGIN = {
    "title": "Can't sign in to the app",
    "body": "If the app says your password is wrong, choose 'Forgot password' on the sign-in screen and "
    "follow the link we email you. After five wrong attempts the app locks for 30 minutes.",
    "status": "published",
    "example_questions": ["I can't log in", "The app says my password is incorrect"],
}
FRAUD = {
    "title": "Internal: handling suspected fraud",
    "body": "Freeze the card in the back office, then call the customer from the number on file. "
    "Error E4711.",
    "audience": "internal",
    "status": "published",
}


def write(client: TestClient, who: object, article: dict[str, object]) -> dict[str, object]:
    response = client.post("/api/v1/kb/articles", json=article, headers=who.headers)  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body
