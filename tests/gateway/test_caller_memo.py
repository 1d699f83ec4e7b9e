"""CallerMemo: found by the identity of the principal and the metadata, never by an equal copy."""

from tfy_gateway.gateway.caller_memo import CallerMemo


class Principal:
    pass


def test_a_value_is_found_for_the_same_objects_and_extra_only() -> None:
    memo: CallerMemo[str] = CallerMemo(8)
    principal, metadata = Principal(), {"team": "a"}
    memo.put(principal, metadata, "model-a", "view")
    assert memo.get(principal, metadata, "model-a") == "view"
    assert memo.get(principal, metadata, "model-b") is None
    assert memo.get(principal, {"team": "a"}, "model-a") is None  # equal metadata, another object
    assert memo.get(Principal(), metadata, "model-a") is None


def test_an_entry_whose_objects_are_not_the_callers_misses() -> None:
    memo: CallerMemo[str] = CallerMemo(8)
    principal, metadata = Principal(), {}
    memo.put(principal, metadata, None, "kept")
    # As if the principal had gone and another object had taken its id: the entry holds another
    # object under the same key, and the identity check refuses it.
    key = next(iter(memo._found))
    memo._found[key] = (object(), metadata, "another caller's")
    assert memo.get(principal, metadata, None) is None


def test_it_starts_over_when_full() -> None:
    memo: CallerMemo[int] = CallerMemo(2)
    callers = [Principal() for _ in range(3)]
    for number, principal in enumerate(callers):
        memo.put(principal, None, None, number)
    assert memo.get(callers[0], None, None) is None
    assert memo.get(callers[2], None, None) == 2
