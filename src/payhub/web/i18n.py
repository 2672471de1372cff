"""The customer pages' languages: Vietnamese, English and Malay.

One catalogue (`MESSAGES`) holds every string the hosted checkout, pay step and result page
show, keyed by a short id, in the three languages; a missing translation falls back to
English. `choose_locale` picks the page's language: `?lang=`, then the order's locale, then
the merchant's default, then the browser's `Accept-Language` (negotiated by Babel), then
English. Amounts are written by Babel from integer minor units (`services.notify_render`,
the same formatting the e-mails use): `40.000 ₫` in Vietnamese, `₫40,000` in English,
`RM10.50` in Malay.
"""

from __future__ import annotations

from datetime import timedelta

from babel.core import Locale

from payhub.gateways.registry import entry
from payhub.services.notify_render import format_money

LOCALES = ("vi", "en", "ms")
FALLBACK = "en"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English", "ms": "Bahasa Melayu"}

# id -> (vi, en, ms). `{name}` placeholders are filled by `Translator.__call__`.
MESSAGES: dict[str, tuple[str, str, str]] = {
    "checkout": ("Thanh toán", "Checkout", "Pembayaran"),
    "language": ("Ngôn ngữ", "Language", "Bahasa"),
    "test_mode": (
        "Chế độ thử: không có tiền thật được chuyển",
        "Test mode: no real money moves",
        "Mod ujian: tiada wang sebenar dipindahkan",
    ),
    "order_ref": ("Đơn hàng {ref}", "Order {ref}", "Pesanan {ref}"),
    "items": ("Sản phẩm", "Items", "Item"),
    "item": ("Sản phẩm", "Item", "Item"),
    "quantity": ("SL", "Qty", "Kuantiti"),
    "price": ("Thành tiền", "Amount", "Amaun"),
    "total": ("Tổng cộng", "Total", "Jumlah"),
    "time_left": ("Thời gian còn lại", "Time left", "Masa berbaki"),
    "pay_within": (
        "Vui lòng thanh toán trong {minutes} phút",
        "Please pay within {minutes} minutes",
        "Sila bayar dalam masa {minutes} minit",
    ),
    "expired_now": (
        "Đơn hàng đã hết hạn thanh toán",
        "This order has expired",
        "Pesanan ini telah tamat tempoh",
    ),
    "choose": ("Chọn cách thanh toán", "Choose how to pay", "Pilih cara pembayaran"),
    "pay_with": ("Thanh toán bằng {gateway}", "Pay with {gateway}", "Bayar dengan {gateway}"),
    "no_gateway": (
        "Không có phương thức thanh toán nào cho số tiền này.",
        "No payment method is available for this amount.",
        "Tiada kaedah pembayaran untuk amaun ini.",
    ),
    "already_paid": (
        "Đơn hàng này đã được thanh toán.",
        "This order is already paid.",
        "Pesanan ini telah dibayar.",
    ),
    "not_payable": (
        "Đơn hàng này không thể thanh toán nữa.",
        "This order can no longer be paid.",
        "Pesanan ini tidak boleh dibayar lagi.",
    ),
    "could_not_start": (
        "Không thể bắt đầu thanh toán",
        "Payment could not start",
        "Pembayaran tidak dapat dimulakan",
    ),
    "scan_qr": (
        "Quét mã QR bằng ứng dụng ngân hàng",
        "Scan the QR code with your banking app",
        "Imbas kod QR dengan aplikasi bank anda",
    ),
    "scan_qr_app": (
        "Quét mã QR bằng ứng dụng {gateway}",
        "Scan the QR code with the {gateway} app",
        "Imbas kod QR dengan aplikasi {gateway}",
    ),
    "qr_label": ("Mã QR thanh toán {gateway}", "{gateway} payment QR code", "Kod QR {gateway}"),
    "open_app": ("Mở ứng dụng {gateway}", "Open in the {gateway} app", "Buka aplikasi {gateway}"),
    "open_page": (
        "Mở trang thanh toán {gateway}",
        "Open {gateway}'s payment page",
        "Buka halaman pembayaran {gateway}",
    ),
    "check_status": (
        "Tôi đã thanh toán: xem kết quả",
        "I have paid: see the result",
        "Saya telah bayar: lihat keputusan",
    ),
    "other_method": ("Chọn cách khác", "Choose another method", "Pilih cara lain"),
    "result": ("Kết quả thanh toán", "Payment result", "Keputusan pembayaran"),
    "head_succeeded": ("Đã nhận thanh toán", "Payment received", "Pembayaran diterima"),
    "head_pending": ("Đang chờ xác nhận…", "Waiting for confirmation…", "Menunggu pengesahan…"),
    "head_failed": ("Thanh toán thất bại", "Payment failed", "Pembayaran gagal"),
    "head_cancelled": ("Đã huỷ thanh toán", "Payment cancelled", "Pembayaran dibatalkan"),
    "head_expired": ("Thanh toán đã hết hạn", "Payment expired", "Pembayaran tamat tempoh"),
    "head_review": (
        "Thanh toán đang được xem xét",
        "Payment under review",
        "Pembayaran sedang disemak",
    ),
    "note_pending": (
        "Chúng tôi đang chờ {gateway} xác nhận. Trang này tự cập nhật; "
        "việc quay lại từ cổng thanh toán không có nghĩa là đã thanh toán.",
        "We are waiting for {gateway} to confirm the payment. This page updates by itself; "
        "coming back from the gateway alone never counts as paid.",
        "Kami sedang menunggu {gateway} mengesahkan pembayaran. Halaman ini dikemas kini "
        "sendiri; kembali dari gerbang pembayaran sahaja tidak dikira sebagai dibayar.",
    ),
    "note_succeeded": (
        "Cảm ơn bạn. {merchant} đã nhận được thanh toán.",
        "Thank you. {merchant} has received your payment.",
        "Terima kasih. {merchant} telah menerima pembayaran anda.",
    ),
    "note_failed": (
        "Không có tiền nào bị trừ cho lần thử này. Bạn có thể thử lại.",
        "No money was taken for this attempt. You can try again.",
        "Tiada wang diambil untuk cubaan ini. Anda boleh cuba lagi.",
    ),
    "note_review": (
        "{merchant} sẽ kiểm tra thanh toán này và liên hệ với bạn.",
        "{merchant} will check this payment and get back to you.",
        "{merchant} akan menyemak pembayaran ini dan menghubungi anda.",
    ),
    "status": ("Trạng thái", "Status", "Status"),
    "st_succeeded": ("đã thanh toán", "paid", "dibayar"),
    "st_pending": ("đang chờ", "pending", "belum selesai"),
    "st_failed": ("thất bại", "failed", "gagal"),
    "st_cancelled": ("đã huỷ", "cancelled", "dibatalkan"),
    "st_expired": ("hết hạn", "expired", "tamat tempoh"),
    "st_review": ("đang xem xét", "under review", "sedang disemak"),
    "balance": ("Số dư tín dụng", "Credit balance", "Baki kredit"),
    "try_again": ("Thử lại", "Try again", "Cuba lagi"),
    "back_to_shop": ("Quay lại cửa hàng", "Back to the shop", "Kembali ke kedai"),
    "link_invalid": ("Liên kết không hợp lệ", "Link invalid", "Pautan tidak sah"),
    "unknown_order": ("Không có đơn hàng này", "Unknown order", "Pesanan tidak diketahui"),
    "unknown_payment": ("Không có thanh toán này", "Unknown payment", "Pembayaran tidak diketahui"),
}

# A payment's stored status -> what the result page calls it (its headline and label).
RESULT_STATE = {
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
    "review": "review",
    "initiated": "pending",
    "pending": "pending",
    "unknown": "pending",
    "authorized": "pending",
}


class Translator:
    """The catalogue in one language: `t("pay_with", gateway="…")`."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else FALLBACK
        self._index = LOCALES.index(self.locale)

    def __call__(self, key: str, **values: object) -> str:
        row = MESSAGES[key]
        text = row[self._index] or row[LOCALES.index(FALLBACK)]
        return text.format(**values) if values else text

    def money(self, minor: int, currency: str) -> str:
        return format_money(minor, currency, self.locale)

    def minutes_left(self, left: timedelta) -> int:
        return max(0, int(left.total_seconds() // 60))


def parse_accept_language(header: str | None) -> list[str]:
    """The tags of an `Accept-Language` header, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and len(tag) <= 35 and quality > 0:
            weighted.append((-quality, position, tag.replace("_", "-")))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(accept_language: str | None) -> str | None:
    """Babel's negotiation of the browser's languages against ours; `None` if none fits."""
    found = Locale.negotiate(parse_accept_language(accept_language), list(LOCALES), sep="-")
    return None if found is None else found.language


def choose_locale(
    query: str | None,
    order_locale: str | None,
    merchant_locale: str | None,
    accept_language: str | None,
) -> str:
    """The page's language: `?lang=`, the order's, the merchant's, the browser's, English."""
    for candidate in (query, order_locale, merchant_locale):
        if candidate in LOCALES:
            return str(candidate)
    return negotiate(accept_language) or FALLBACK


def gateway_line(t: Translator, gateway: str) -> str:
    """The short line under a gateway's button, in the page's language: each gateway's
    package says it (`CheckoutCopy.line`), so adding a gateway touches no catalogue."""
    line = entry(gateway).adapter.checkout_copy.line
    return line.get(t.locale) or line.get(FALLBACK, "")
