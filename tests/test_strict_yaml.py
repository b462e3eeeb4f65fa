"""Duplicate keys in the YAML the user writes (model configs, published numbers) are refused, naming the key and
its lines; PyYAML alone keeps the last one silently."""

from pathlib import Path

import pytest
import yaml

from dexbench.errors import InputFileError
from dexbench.io.strict_yaml import safe_load_strict
from dexbench.model.config import load_config
from dexbench.protocol.published import load_file
from dexbench.protocol.submission import read_card


def test_reads_what_safe_load_reads():
    text = "a: 1\nb: {c: [1, 2], d: x}\nbase: &b {x: 1}\nmerged:\n  <<: *b\n  x: 2\n"
    assert safe_load_strict(text) == yaml.safe_load(text)  # a merge key may be overridden: not a duplicate


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "loss:\n  x: 1\n  y: 0\n  x: 2\n", "- {a: 1, a: 2}\n"])
def test_duplicate_keys_are_refused(text: str):
    with pytest.raises(yaml.YAMLError, match="found duplicate key"):
        safe_load_strict(text)


def test_a_model_config_with_a_key_twice_names_the_file_and_line(tmp_path: Path):
    cfg = tmp_path / "odd name ü.yaml"
    cfg.write_text("name: t\nloss:\n  code_swap: 3.0\n  part_adversarial: 0.5\n  part_adversarial: 1.0\n")
    msg = r"does not parse as YAML: found duplicate key 'part_adversarial' \(first given on line 4\) \(line 5\)"
    with pytest.raises(InputFileError, match=msg) as exc:
        load_config(cfg)
    assert "odd name ü.yaml" in str(exc.value)


def test_published_numbers_with_a_key_twice_are_refused(tmp_path: Path):
    f = tmp_path / "published.yaml"
    f.write_text("source: {}\nrows: []\nsource: {}\n")
    with pytest.raises(InputFileError, match="duplicate key 'source'"):
        load_file(f)


def test_a_card_with_a_name_twice_says_so_on_one_line(tmp_path: Path):
    (tmp_path / "method.yaml").write_text("name: shown\nversion: '1'\nname: other\n")
    with pytest.raises(InputFileError, match=r"duplicate key 'name' \(first given on line 1\) \(line 3\)"):
        read_card(tmp_path)
