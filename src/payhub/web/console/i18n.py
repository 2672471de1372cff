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
    # orders, order page, review queue, statuses
    "Accept": "Chấp nhận",
    "Accept payment": "Chấp nhận thanh toán",
    "Accepted: the order is paid.": "Đã chấp nhận: đơn hàng đã được thanh toán.",
    "Action": "Hành động",
    "Amount": "Số tiền",
    "Amount differs": "Số tiền không khớp",
    "Amount received": "Số tiền đã nhận",
    "Amount to refund": "Số tiền hoàn",
    "Attempts": "Lượt thanh toán",
    "By": "Bởi",
    "Cancel order": "Hủy đơn hàng",
    "Cancel this order? Its live payment links are closed and its stock is released.": (
        "Hủy đơn hàng này? Các liên kết thanh toán đang mở sẽ bị đóng và hàng tồn kho được trả lại."
    ),
    "Channel": "Kênh",
    "Created": "Tạo lúc",
    "Credits": "Tín dụng",
    "Currency": "Tiền tệ",
    "Customer": "Khách hàng",
    "Days are counted in": "Ngày được tính theo múi giờ",
    "Deliveries due again:": "Số lượt gửi lại:",
    "Description": "Mô tả",
    "Enabled": "Bật",
    "Environment": "Môi trường",
    "Events and webhook deliveries": "Sự kiện và webhook đã gửi",
    "Every endpoint is receiving its events.": "Mọi endpoint đều nhận được sự kiện.",
    "Expires": "Hết hạn",
    "Export CSV": "Xuất CSV",
    "Failure": "Lỗi",
    "From": "Từ",
    "Gateway": "Cổng",
    "Gateway data": "Dữ liệu từ cổng",
    "Gateway reference": "Mã tham chiếu cổng",
    "Gateway said": "Cổng báo",
    "Gateway transaction": "Mã giao dịch cổng",
    "Given up": "Đã bỏ",
    "Health": "Tình trạng",
    "Inbound requests": "Yêu cầu nhận được",
    "It cannot be undone here; a refund afterwards is a separate step.": (
        "Không thể hoàn tác tại đây; hoàn tiền sau đó là một bước riêng."
    ),
    "Item": "Mặt hàng",
    "Items": "Mặt hàng",
    (
        "Money moved but the order did not settle by itself. Accept it and the order "
        "becomes paid; reject it and the money goes back."
    ): (
        "Tiền đã chuyển nhưng đơn hàng chưa tự hoàn tất. Chấp nhận để đơn hàng "
        "được tính là đã thanh toán; từ chối để hoàn tiền cho người trả."
    ),
    "Accept or reject this payment?": "Chấp nhận hay từ chối khoản thanh toán này?",
    "Accept or reject": "Chấp nhận hoặc từ chối",
    "Reject": "Từ chối",
    "Accepting": "Chấp nhận",
    "Rejecting": "Từ chối",
    "Reject payment": "Từ chối khoản thanh toán",
    "Note (why the money goes back)": "Ghi chú (lý do hoàn tiền)",
    "The money received goes back to the payer:": "Số tiền đã nhận được hoàn lại cho người trả:",
    "refunded through the gateway": "hoàn qua cổng thanh toán",
    "this gateway cannot refund: give it back at the gateway first, then confirm here": (
        "cổng này không hoàn tiền được: hãy hoàn trên cổng trước, rồi xác nhận tại đây"
    ),
    "This payment never pays the order; no credits are granted.": (
        "Khoản này không thanh toán cho đơn hàng; không cộng tín dụng."
    ),
    "The order is cancelled and its reserved stock released, once.": (
        "Đơn hàng bị huỷ và hàng giữ chỗ được trả lại kho, một lần."
    ),
    "The order stays paid by its other payment.": ("Đơn hàng vẫn được thanh toán bởi khoản kia."),
    "Rejected: the money goes back to the payer.": "Đã từ chối: tiền được hoàn cho người trả.",
    "No attempt yet.": "Chưa có lượt thanh toán nào.",
    "No gateway account yet.": "Chưa có tài khoản cổng nào.",
    "No order matches.": "Không có đơn hàng phù hợp.",
    "No webhook endpoint receives this event.": "Không có endpoint nào nhận sự kiện này.",
    "None yet.": "Chưa có.",
    "Note": "Ghi chú",
    "Note (why)": "Ghi chú (lý do)",
    "Nothing to review.": "Không có gì cần xem xét.",
    "Notifications sent": "Thông báo đã gửi",
    "Older orders": "Đơn cũ hơn",
    "Order": "Đơn hàng",
    "Paid": "Thanh toán lúc",
    "Paid after expiry": "Thanh toán sau khi hết hạn",
    "Paid twice": "Thanh toán hai lần",
    "Payment": "Thanh toán",
    "Payment attempts": "Các lượt thanh toán",
    "Period": "Khoảng thời gian",
    "Quantity": "Số lượng",
    "Reason": "Lý do",
    "Record a manual payment (bank transfer, cash)": (
        "Ghi nhận thanh toán thủ công (chuyển khoản, tiền mặt)"
    ),
    "Record payment": "Ghi nhận",
    "Redeliver": "Gửi lại",
    "Reference": "Mã tham chiếu",
    "Refund": "Hoàn tiền",
    "Refund this amount to the customer?": "Hoàn số tiền này cho khách hàng?",
    "Refunds": "Hoàn tiền",
    "Retrying": "Đang thử lại",
    "Review": "Xem xét",
    "Search": "Tìm kiếm",
    "Sent": "Đã gửi",
    "Since": "Từ lúc",
    "Source": "Nguồn",
    "Started": "Bắt đầu",
    "State": "Trạng thái",
    "Status": "Trạng thái",
    "Subject": "Đối tượng",
    "Succeeded": "Thành công",
    "Success rate per gateway": "Tỷ lệ thành công theo cổng",
    "Template": "Mẫu",
    "The customer is granted the order's credits, once:": (
        "Khách hàng được cộng tín dụng của đơn, một lần:"
    ),
    "The manual payment is recorded.": "Đã ghi nhận thanh toán thủ công.",
    "The merchant's app receives the order.paid event.": (
        "Ứng dụng của cửa hàng nhận sự kiện order.paid."
    ),
    "The order becomes paid, with the amount received:": (
        "Đơn hàng được tính là đã thanh toán, với số tiền đã nhận:"
    ),
    "The order is cancelled.": "Đơn hàng đã bị hủy.",
    "Timeline": "Dòng thời gian",
    "To": "Đến",
    "Unit price": "Đơn giá",
    "Verified facts": "Dữ kiện đã xác minh",
    "Volume per day": "Doanh thu theo ngày",
    "When": "Lúc",
    "Who": "Ai",
    "Your note and your name are kept in the audit log.": (
        "Ghi chú và tên của bạn được lưu trong nhật ký."
    ),
    "any": "tất cả",
    "confirmed in": "xác nhận trong",
    "disabled": "đã tắt",
    "empty = all that is left": "để trống = toàn bộ phần còn lại",
    "enabled": "đang bật",
    "expected": "cần thu",
    "from": "từ",
    "given back outside the gateway (record only)": "đã hoàn ngoài cổng (chỉ ghi nhận)",
    "manual": "thủ công",
    "no": "không",
    "not measured yet": "chưa đo",
    "on average": "trung bình",
    "only the first bytes are shown or kept": "chỉ hiển thị hoặc lưu phần đầu",
    "outcome": "kết quả",
    "paid orders": "đơn đã thanh toán",
    "received": "đã nhận",
    "reference, order id, transaction id, e-mail, phone": (
        "mã tham chiếu, mã đơn, mã giao dịch, e-mail, điện thoại"
    ),
    "refunded": "đã hoàn",
    "signature": "chữ ký",
    "the order asked for": "đơn hàng cần",
    "the order expired at": "đơn hàng hết hạn lúc",
    "the order was already paid by another attempt; this one received": (
        "đơn hàng đã được thanh toán bởi lượt khác; lượt này nhận"
    ),
    "yes": "có",
    "awaiting_payment": "chờ thanh toán",
    "paid": "đã thanh toán",
    "payment_failed": "thanh toán lỗi",
    "cancelled": "đã hủy",
    "expired": "hết hạn",
    "review": "cần xem xét",
    "partially_refunded": "hoàn một phần",
    "initiated": "khởi tạo",
    "pending": "đang chờ",
    "unknown": "chưa rõ",
    "authorized": "đã giữ tiền",
    "succeeded": "thành công",
    "failed": "thất bại",
    "delivered": "đã gửi",
    "sent": "đã gửi",
    "sending": "đang gửi",
    "valid": "hợp lệ",
    "invalid": "không hợp lệ",
    "unchecked": "chưa kiểm tra",
    "amount_mismatch": "số tiền không khớp",
    "paid_after_expiry": "thanh toán sau khi hết hạn",
    "double_payment": "thanh toán hai lần",
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
