import pytest

from chalicelib.domain.masking import mask_email, mask_id, mask_ip


@pytest.mark.parametrize(
    "value,masked",
    [
        ("abcdef@qq.com", "ab***@qq.com"),
        ("a@163.com", "a***@163.com"),
        (None, None),
        ("", ""),
    ],
)
def test_email(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    "value,masked",
    [
        ("1.2.3.4", "1.2.*.*"),
        ("36.110.201.9", "36.110.*.*"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:*"),
        (None, None),
    ],
)
def test_ip(value, masked):
    assert mask_ip(value) == masked


@pytest.mark.parametrize(
    "value,masked",
    [
        ("2088102116773037", "20********37"),
        ("u123", "****"),
        ("buyer-42", "bu****42"),
        (None, None),
    ],
)
def test_id(value, masked):
    assert mask_id(value) == masked
