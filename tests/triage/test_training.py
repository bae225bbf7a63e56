"""Training and evaluating from every data format, through the command line as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ombud.cli.main import main
from ombud.triage.classifier import TextClassifier

INTENTS = {
    "card_declined": [
        "my card was declined",
        "card refused at the shop",
        "payment with my card failed",
        "why was my card rejected",
        "the card got declined again",
        "my card does not work in shops",
    ],
    "lost_card": [
        "I lost my card",
        "my card was stolen",
        "I can't find my card anywhere",
        "someone took my wallet with my card",
        "please block my lost card",
        "my card is missing",
    ],
    "refund": [
        "where is my refund",
        "I want my money back",
        "refund has not arrived",
        "how long does a refund take",
        "I still have no refund",
        "return my money please",
    ],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMBUD_HOME", str(tmp_path / "home"))
    return tmp_path


def _csv(path: Path) -> Path:
    rows = ["text,label"] + [f'"{t}",{label}' for label, texts in INTENTS.items() for t in texts]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_train_evaluate_and_reload_a_csv_intent_model(env: Path) -> None:
    runner = CliRunner()
    data, out = _csv(env / "intents.csv"), env / "model"
    trained = runner.invoke(main, ["triage", "train", "--data", str(data), "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    assert "trained in" in trained.output  # progress goes to stderr, which CliRunner mixes in
    evaluated = runner.invoke(main, ["triage", "evaluate", "--model", str(out), "--data", str(data)])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.output.strip().splitlines()[-1])
    assert metrics["accuracy"] >= 0.9
    assert {"macro_f1", "messages_per_second", "peak_rss_mb"} <= metrics.keys()
    model = TextClassifier.load(out)
    assert model.labels_ == sorted(INTENTS)
    assert model.predict(["my card got refused"]) == [["card_declined"]]
    card = json.loads((out / "model.json").read_text())
    assert card["data"]["rows"] == 18
    assert card["task"] == "intent"


def test_multilabel_jsonl_with_oos_rows_reports_multilabel_metrics(env: Path) -> None:
    rows = []
    for label, texts in INTENTS.items():
        rows += [{"text": t, "labels": [label]} for t in texts]
    rows += [
        {"text": f"my card was declined and {t}", "labels": ["card_declined", "refund"]}
        for t in INTENTS["refund"]
    ]
    rows += [
        {"text": t, "labels": ["oos"]}
        for t in ["what's the weather", "tell me a joke", "who won the match", "recommend a film"]
    ]
    data = env / "multi.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    runner = CliRunner()
    out = env / "multi"
    assert runner.invoke(main, ["triage", "train", "--data", str(data), "--out", str(out)]).exit_code == 0
    result = runner.invoke(main, ["triage", "evaluate", "--model", str(out), "--data", str(data)])
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert {"micro_f1", "macro_f1", "exact_match", "oos_recall", "in_scope_accuracy"} <= metrics.keys()
    assert metrics["micro_f1"] > 0.8


def test_nlupp_folds_and_tweeteval_pairs_are_read(env: Path) -> None:
    folds = []
    for index in range(2):
        fold = env / f"fold{index}.json"
        fold.write_text(
            json.dumps(
                [
                    {"text": t, "intents": [label], "slots": {}}
                    for label, texts in INTENTS.items()
                    for t in texts
                ]
            ),
            encoding="utf-8",
        )
        folds += ["--data", str(fold)]
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["triage", "train", *folds, "--format", "nlupp", "--out", str(env / "n")]
        ).exit_code
        == 0
    )
    (env / "tw").mkdir()
    (env / "tw" / "mapping.txt").write_text("0\tnot-offensive\n1\toffensive\n")
    texts = ["have a lovely day", "you are a stupid idiot", "great match today", "shut up you moron"] * 3
    (env / "tw" / "train_text.txt").write_text("\n".join(texts) + "\n")
    (env / "tw" / "train_labels.txt").write_text("\n".join(["0", "1", "0", "1"] * 3) + "\n")
    trained = runner.invoke(
        main,
        [
            "triage",
            "train",
            "--task",
            "abuse",
            "--data",
            str(env / "tw" / "train_text.txt"),
            "--out",
            str(env / "a"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert TextClassifier.load(env / "a").labels_ == ["not-offensive", "offensive"]
    mismatch = runner.invoke(
        main, ["triage", "evaluate", "--model", str(env / "a"), "--data", str(env / "tw" / "train_text.txt")]
    )
    assert mismatch.exit_code == 1
    assert "task_mismatch" in mismatch.output


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.csv", "text,label\nhello,greet\n,greet\n", "bad.csv:3: the text is empty"),
        ("cols.csv", "message,intent\nhello,greet\n", "no column 'text'"),
        ("bad.jsonl", '{"text": "hi", "labels": ["a"]}\n{"text": "hi"\n', "bad.jsonl:2: not JSON"),
        (
            "nolabel.jsonl",
            '{"text": "hi", "labels": []}\n',
            "nolabel.jsonl:1: labels must be a non-empty list",
        ),
        ("list.json", '{"text": 1}', "few-shot definitions are"),
        ("data.txt", "hello", "Cannot tell the format of data.txt"),
    ],
)
def test_bad_training_files_name_the_line(env: Path, name: str, content: str, expected: str) -> None:
    path = env / name
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["triage", "train", "--data", str(path), "--out", str(env / "m")])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (env / "m").exists()


def test_a_damaged_model_directory_is_refused_clearly(env: Path) -> None:
    (env / "m").mkdir()
    (env / "m" / "model.json").write_text('{"format": "something-else"}')
    result = CliRunner().invoke(
        main, ["triage", "evaluate", "--model", str(env / "m"), "--data", str(_csv(env / "d.csv"))]
    )
    assert result.exit_code == 1
    assert "bad_model" in result.output


def test_analyze_prints_the_contract_from_an_argument_or_stdin(env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["triage", "analyze", "this is the third time my card was declined!!!"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    expected = {
        "concerns",
        "out_of_scope",
        "emotion",
        "sentiment",
        "frustration",
        "urgency",
        "entities",
        "language",
        "abusive",
        "explanations",
    }
    assert expected <= body.keys()
    assert body["frustration"] >= 0.6
    piped = runner.invoke(main, ["triage", "analyze"], input="Where is my parcel?")
    assert json.loads(piped.output)["concerns"][0]["intents"][0]["label"] == "order_status"
    empty = runner.invoke(main, ["triage", "analyze"], input="   ")
    assert empty.exit_code == 1
    assert "empty_text" in empty.output


def test_use_makes_a_trained_model_live_and_builtin_goes_back(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    out = env / "model"
    assert (
        runner.invoke(
            main, ["triage", "train", "--data", str(_csv(env / "i.csv")), "--out", str(out)]
        ).exit_code
        == 0
    )
    used = runner.invoke(main, ["triage", "use", str(out)])
    assert used.exit_code == 0, used.output
    assert "(3 intents)" in used.output
    live = json.loads(runner.invoke(main, ["triage", "analyze", "my card got refused"]).output)
    assert live["concerns"][0]["intents"][0]["label"] == "card_declined"
    assert live["explanations"]["intent_model"] != "builtin"
    assert runner.invoke(main, ["triage", "use", "--builtin"]).exit_code == 0
    back = json.loads(runner.invoke(main, ["triage", "analyze", "my card got refused"]).output)
    assert back["explanations"]["intent_model"] == "builtin"
    neither = runner.invoke(main, ["triage", "use"])
    assert neither.exit_code == 1


def test_corrections_that_would_change_the_model_kind_are_left_out() -> None:
    from ombud.triage.data import Dataset
    from ombud.triage.training import fit_corrections

    single = Dataset(["a", "b"], [["x"], ["y"]])
    corrections = Dataset(["c", "d", "e"], [["x"], ["oos"], ["x", "y"]])
    kept, skipped = fit_corrections(corrections, single)
    assert (kept.labels, skipped) == ([["x"]], 2)
    with_oos_multi = Dataset(["a", "b"], [["x", "y"], ["oos"]])
    assert fit_corrections(corrections, with_oos_multi)[1] == 0


def test_analyze_refuses_unreadable_text_and_a_model_of_another_task(env: Path) -> None:
    runner = CliRunner()
    nul = runner.invoke(main, ["triage", "analyze"], input="hello\x00world")
    assert nul.exit_code == 1
    assert "invalid_text" in nul.output
    (env / "tw").mkdir()
    (env / "tw" / "train_text.txt").write_text("you idiot\nlovely day\nshut up moron\ngreat match\n")
    (env / "tw" / "train_labels.txt").write_text("1\n0\n1\n0\n")
    data = str(env / "tw" / "train_text.txt")
    assert (
        runner.invoke(
            main, ["triage", "train", "--task", "abuse", "--data", data, "--out", str(env / "a")]
        ).exit_code
        == 0
    )
    wrong = runner.invoke(main, ["triage", "analyze", "--model", str(env / "a"), "hello"])
    assert wrong.exit_code == 1
    assert "bad_model" in wrong.output
