"""Two tabs of one browser profile stay consistent (BroadcastChannel + IndexedDB): a conversation
started in one is listed in the other, messages sent in either appear in both, once, in order,
and a reload shows exactly what was stored.
"""

from __future__ import annotations

MESSAGES = "() => [...document.querySelectorAll('[data-testid=\"message\"]')]" \
    ".map((el) => [el.dataset.id, el.querySelector('[data-testid=\"message-text\"]')" \
    ".textContent.trim()])"


def shown(tab) -> list[list[str]]:
    return tab.page.evaluate(MESSAGES)


def wait_texts(tab, expected: list[str]) -> None:
    try:
        tab.page.wait_for_function(
            f"(expected) => JSON.stringify(({MESSAGES})().map(([, text]) => text))"
            " === JSON.stringify(expected)", arg=expected)
    except Exception as error:
        raise AssertionError(f"expected {expected}, shown {shown(tab)}") from error


def test_two_tabs_show_the_same_conversation(page, standin):
    first = page
    first.sign_in(name="Tab Person")
    first.wait_history(0)
    second = first.another_page()
    second.page.goto(first.origin + "/")
    second.wait_ready("signed-in")
    assert second.wait_history(0) == []

    assert first.ask("Hello from the first tab") == "Echo: Hello from the first tab"
    assert second.wait_history(1) == ["Hello from the first tab"]  # listed there too
    second.testid("history-open").click()
    wait_texts(second, ["Hello from the first tab", "Echo: Hello from the first tab"])

    # While both show it: a message sent in one appears in the other, once.
    assert first.ask("Second, from the first tab") == "Echo: Second, from the first tab"
    expected = ["Hello from the first tab", "Echo: Hello from the first tab",
                "Second, from the first tab", "Echo: Second, from the first tab"]
    wait_texts(second, expected)
    assert second.ask("And one from the second tab") == "Echo: And one from the second tab"
    expected += ["And one from the second tab", "Echo: And one from the second tab"]
    wait_texts(first, expected)
    wait_texts(second, expected)

    # The same messages, by id, in both tabs; no duplicates; one conversation in the list.
    ids_first = [message_id for message_id, _ in shown(first)]
    assert ids_first == [message_id for message_id, _ in shown(second)]
    assert len(set(ids_first)) == 6
    assert first.history_titles() == second.history_titles() == ["Hello from the first tab"]

    # What was stored is exactly that: a reload of the first tab shows the same six messages.
    first.reload()
    wait_texts(first, expected)
    assert [message_id for message_id, _ in shown(first)] == ids_first
    assert first.wait_history(1) == ["Hello from the first tab"]
    # The second tab's answer history included the first tab's messages.
    contents = standin.requests()[-1]["body"]["contents"]
    assert [c["parts"][0]["text"] for c in contents] == expected[:5]
    first.assert_clean()
    second.assert_clean()
