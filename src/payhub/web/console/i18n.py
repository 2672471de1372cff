"""The console's text in Vietnamese and English, in one catalogue.

Templates write English and call `_("...")`; `translator(locale)` gives the function that
looks the Vietnamese up (English is the text itself). A missing Vietnamese entry shows the
English, never an error. Add a page's strings here, in the page's section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from payhub.web.console.i18n_pages import PAGES_VI

VI: Final[dict[str, str]] = {
    # layout and navigation
    "Operator console": "Bảng điều khiển",
    "Dashboard": "Tổng quan",
    "Orders": "Đơn hàng",
    "Review queue": "Cần xem xét",
    "Gateways": "Cổng thanh toán",
    "Developers": "Nhà phát triển",
    "Products": "Sản phẩm",
    "Customers": "Khách hàng",
    "Audit log": "Nhật ký",
    "Settings": "Cài đặt",
    "Log out": "Đăng xuất",
    "Merchant": "Cửa hàng",
    "Switch": "Chuyển",
    "Language": "Ngôn ngữ",
    "Menu": "Menu",
    "Signed in as": "Đăng nhập với",
    "No merchant yet": "Chưa có cửa hàng",
    # roles
    "owner": "chủ sở hữu",
    "operator": "nhân viên vận hành",
    "viewer": "chỉ xem",
    # login
    "Log in": "Đăng nhập",
    "E-mail": "E-mail",
    "Password": "Mật khẩu",
    "E-mail or password is wrong.": "E-mail hoặc mật khẩu không đúng.",
    "Too many login attempts. Try again in a few minutes.": (
        "Quá nhiều lần đăng nhập. Hãy thử lại sau vài phút."
    ),
    "You have logged out.": "Bạn đã đăng xuất.",
    "Your session has ended. Log in again.": "Phiên làm việc đã hết. Hãy đăng nhập lại.",
    # errors
    "Not allowed": "Không được phép",
    "Your role may not do this.": "Vai trò của bạn không được làm việc này.",
    "The form has expired or did not come from this console. Reload the page and try again.": (
        "Biểu mẫu đã hết hạn hoặc không đến từ bảng điều khiển này. Hãy tải lại trang và thử lại."
    ),
    "Not found": "Không tìm thấy",
    "This page does not exist.": "Trang này không tồn tại.",
    "Request refused": "Yêu cầu bị từ chối",
    "Some fields are missing or wrong:": "Một số trường bị thiếu hoặc sai:",
    "Back": "Quay lại",
    "Something went wrong": "Đã xảy ra lỗi",
    # dashboard
    "Today": "Hôm nay",
    "7 days": "7 ngày",
    "30 days": "30 ngày",
    "Volume": "Doanh thu",
    "Payments": "Thanh toán",
    "Success rate": "Tỷ lệ thành công",
    "Average time to confirmation": "Thời gian xác nhận trung bình",
    "In review": "Đang xem xét",
    "Failing endpoints": "Endpoint lỗi",
    "Gateway health": "Tình trạng cổng",
    "No payments in this period.": "Không có thanh toán nào trong kỳ này.",
    # merchant switch
    "Now working on": "Đang làm việc với",
}

VI.update({k: v for k, v in PAGES_VI.items() if k not in VI})  # the pages' own strings

Translate = Callable[[str], str]


def translator(locale: str) -> Translate:
    """The `_` of a page in `locale` (vi or en)."""
    if locale == "vi":
        return lambda text: VI.get(text, text)
    return lambda text: text


def pick_locale(cookie: str | None, accept_language: str | None) -> str:
    """The console's language: the reader's choice (cookie), else Vietnamese if the browser
    prefers it to English, else English."""
    if cookie in ("vi", "en"):
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("vi"):
            return "vi"
        if tag.startswith("en"):
            return "en"
    return "en"
