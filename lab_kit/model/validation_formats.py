"""Kubernetes' value formats and their exact error texts: names, label keys and values,
ports, config keys, percentages, IP addresses and CIDRs.

Mirrors `k8s.io/apimachinery/pkg/util/validation/validation.go` and `ip.go`
(IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label, IsValidPortName, IsValidPortNum,
IsConfigMapKey, IsValidPercent, IsValidIP, IsValidCIDR, netutils.ParseIPSloppy),
`k8s.io/apimachinery/pkg/api/validate/content/kube.go` (label keys and values),
the NameIs* functions of `k8s.io/apimachinery/pkg/api/validation/generic.go`, and
ValidateNonSpecialIP of `pkg/apis/core/validation/validation.go`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from lab_kit.model.errors import FieldError, invalid

Errors = list[FieldError]

# --- messages and formats (util/validation/validation.go) --------------------------------


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """RegexError: `<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')`."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        text += (" or " if i else "") + f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


NEGATIVE = "must be greater than or equal to 0"  # IsNegativeErrorMsg

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_WILDCARD_SUBDOMAIN = "\\*\\." + _DNS1123_SUBDOMAIN
_LABEL_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _LABEL_KEY + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"
_PERCENT = "[0-9]+%"

_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def _full(fmt: str) -> re.Pattern:
    return re.compile(f"(?:{fmt})")


_RE = {
    fmt: _full(fmt)
    for fmt in (
        _DNS1123_LABEL,
        _DNS1123_SUBDOMAIN,
        _DNS1035_LABEL,
        _WILDCARD_SUBDOMAIN,
        _LABEL_KEY,
        _LABEL_VALUE,
        _CONFIG_KEY,
        _PERCENT,
    )
}


def _matches(fmt: str, value: str) -> bool:
    return _RE[fmt].fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _matches(_DNS1123_LABEL, value):
        if _matches(_DNS1123_SUBDOMAIN, value):
            errs.append("must not contain dots")  # a valid subdomain: only dots are wrong
        else:
            msg = (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character"
            )
            errs.append(regex_error(msg, _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _matches(_DNS1123_SUBDOMAIN, value):
        msg = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
        errs.append(regex_error(msg, _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _matches(_DNS1035_LABEL, value):
        msg = (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character"
        )
        errs.append(regex_error(msg, _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _matches(_WILDCARD_SUBDOMAIN, value):
        msg = (
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
            "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
            "and end with an alphanumeric character"
        )
        errs.append(regex_error(msg, _WILDCARD_SUBDOMAIN, "*.example.com"))
    return errs


def is_label_key(value: str) -> list[str]:
    """IsLabelKey (a.k.a. IsQualifiedName): `[prefix/]name`."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs: list[str] = []
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(parts[0])]
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _matches(_LABEL_KEY, name):
        errs.append(
            "name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _matches(_LABEL_VALUE, value):
        msg = (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
        errs.append(regex_error(msg, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    ok = isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    return [] if ok else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME (RFC 6335), lower case only."""
    errs = [max_len_error(15)] if len(port) > 15 else []
    if not re.fullmatch("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _matches(_CONFIG_KEY, value):
        msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        errs.append(regex_error(msg, _CONFIG_KEY, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _matches(_PERCENT, value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [regex_error(msg, _PERCENT, "1%", "93%")]


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    """NameIsDNSSubdomain; `prefix` (generateName) may end in a dash."""
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def invalid_each(path: str, value: Any, messages: list[str]) -> Errors:
    """One Invalid error per message, as Kubernetes reports a value failing several rules."""
    return [invalid(path, value, msg) for msg in messages]


# --- IP addresses (util/validation/ip.go, core ValidateNonSpecialIP) -----------------------

_SLOPPY_V4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def parse_ip_sloppy(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: Go's net.ParseIP, but IPv4 octets may have leading zeros."""
    if not isinstance(value, str) or "%" in value:
        return None  # Go's ParseIP knows no IPv6 zones
    match = _SLOPPY_V4.fullmatch(value)
    if match:
        octets = [int(o) for o in match.groups()]
        return ipaddress.IPv4Address(bytes(octets)) if max(octets) <= 255 else None
    if ":" not in value:
        return None
    try:
        return ipaddress.IPv6Address(value)
    except ValueError:
        return None


def validate_ip(path: str, value: Any) -> Errors:
    """IsValidIP."""
    if parse_ip_sloppy(value) is None:
        return [
            invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        ]
    return []


def validate_cidr(path: str, value: Any) -> Errors:
    """IsValidCIDR."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return [
            invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    return []


def validate_non_special_ip(value: Any, path: str) -> Errors:
    """ValidateNonSpecialIP: addresses that make no sense as a destination for traffic."""
    ip = parse_ip_sloppy(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # Go's net.IP treats ::ffff:a.b.c.d as the IPv4 address
    errs = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if _is_link_local_unicast(ip):
        errs.append(
            invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    if _is_link_local_multicast(ip):
        msg = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        errs.append(invalid(path, value, msg))
    return errs


def _is_link_local_unicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 4:
        return ip in ipaddress.IPv4Network("169.254.0.0/16")
    return ip in ipaddress.IPv6Network("fe80::/10")


def _is_link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 4:
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    packed = ip.packed  # Go: ip[0] == 0xff && ip[1]&0x0f == 0x02 (any ffx2::/16 scope)
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02
