"""Check digits of the identifiers `tfy-pii` recognises: a number only counts when its checksum holds.

Each function takes the identifier's characters without separators and answers whether it is
well-formed; none of them looks anything up.
"""

from __future__ import annotations

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# Card number prefixes of the networks people paste (Visa, Mastercard, Amex, Discover, Diners, JCB,
# UnionPay, Maestro): a Luhn-valid number outside them is more likely an order or tracking number.
_CARD_PREFIXES = ("4", "51", "52", "53", "54", "55", "2", "34", "37", "6", "36", "38", "30", "35", "62", "50")


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def credit_card(digits: str) -> bool:
    """13-19 digits of a card network's prefix whose Luhn check digit holds."""
    return 13 <= len(digits) <= 19 and digits.startswith(_CARD_PREFIXES) and luhn(digits)


def us_ssn(area: str, group: str, serial: str) -> bool:
    """Numbers the SSA never issues: area 000, 666 or 900-999, group 00, serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def us_itin(area: str, group: str) -> bool:
    """ITINs start with 9 and have a group of 50-65, 70-88, 90-92 or 94-99."""
    value = int(group)
    return area[0] == "9" and (50 <= value <= 65 or 70 <= value <= 88 or 90 <= value <= 92 or 94 <= value <= 99)


def aba_routing(digits: str) -> bool:
    """US bank routing numbers: weights 3, 7, 1 over the nine digits sum to a multiple of 10."""
    if len(digits) != 9 or digits == "000000000":
        return False
    weights = (3, 7, 1) * 3
    return sum(w * (ord(c) - 48) for w, c in zip(weights, digits, strict=True)) % 10 == 0


def iban(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    if not 15 <= len(text) <= 34 or not text[:2].isalpha() or not text[2:4].isdigit():
        return False
    moved = text[4:] + text[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


def verhoeff(digits: str) -> bool:
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[index % 8][ord(char) - 48]]
    return check == 0


def aadhaar(digits: str) -> bool:
    """India's Aadhaar: 12 digits, not starting with 0 or 1, Verhoeff check digit."""
    return len(digits) == 12 and digits[0] not in "01" and verhoeff(digits)


def uk_nhs(digits: str) -> bool:
    """NHS numbers: mod 11 over weights 10..2; a remainder giving 10 is never issued."""
    if len(digits) != 10:
        return False
    total = sum((10 - index) * (ord(c) - 48) for index, c in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == ord(digits[9]) - 48


def ca_sin(digits: str) -> bool:
    return len(digits) == 9 and digits[0] not in "08" and luhn(digits)


def br_cpf(digits: str) -> bool:
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    values = [ord(c) - 48 for c in digits]
    for position in (9, 10):
        total = sum(values[i] * (position + 1 - i) for i in range(position))
        if (total * 10 % 11) % 10 != values[position]:
            return False
    return True


def es_dni(number: str, letter: str) -> bool:
    return _DNI_LETTERS[int(number) % 23] == letter.upper()
