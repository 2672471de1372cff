"""Vietnamese text of the gateways, developers, products, customers, audit and settings
pages, merged into the console's catalogue (`i18n.VI`). Kept apart from the layout's and
the dashboard's strings so each page's text lives next to the others of its kind."""

from __future__ import annotations

from typing import Final

PAGES_VI: Final[dict[str, str]] = {
    # shared
    "enabled": "đang bật",
    "disabled": "đã tắt",
    "Enable": "Bật",
    "Disable": "Tắt",
    "set": "đã đặt",
    "not set": "chưa đặt",
    "missing": "còn thiếu",
    "Save": "Lưu",
    "Done": "Xong",
    "Filter": "Lọc",
    "Older": "Cũ hơn",
    "Time": "Thời gian",
    "Name": "Tên",
    "Reason": "Lý do",
    "Order": "Đơn hàng",
    "Credits": "Điểm",
    "Search": "Tìm",
    # gateways
    "Credentials are write-only: a stored value is shown only as “set” and never sent back "
    "to the browser. An empty field keeps what is stored.": (
        "Thông tin xác thực chỉ ghi: giá trị đã lưu chỉ hiện là “đã đặt” và không bao giờ gửi "
        "lại trình duyệt. Để trống một ô thì giữ nguyên giá trị đã lưu."
    ),
    "No gateway account yet.": "Chưa có tài khoản cổng thanh toán.",
    "Account": "Tài khoản",
    "Priority": "Ưu tiên",
    "Base URL": "URL gốc",
    "Last validation": "Kiểm tra gần nhất",
    "not validated yet": "chưa kiểm tra",
    "valid": "hợp lệ",
    "invalid": "không hợp lệ",
    "unknown": "không rõ",
    "Limits": "Hạn mức",
    "Credentials": "Thông tin xác thực",
    "Replace credentials": "Thay thông tin xác thực",
    "Save credentials": "Lưu thông tin xác thực",
    "Add a gateway account": "Thêm tài khoản cổng",
    "Environment": "Môi trường",
    "simulator": "giả lập",
    "sandbox": "thử nghiệm",
    "production": "thật",
    "Validate now": "Kiểm tra ngay",
    "set — leave empty to keep": "đã đặt — để trống để giữ",
    "Credentials saved.": "Đã lưu thông tin xác thực.",
    "Gateway enabled.": "Đã bật cổng.",
    "Gateway disabled.": "Đã tắt cổng.",
    "Credentials are valid.": "Thông tin xác thực hợp lệ.",
    "Credentials are invalid.": "Thông tin xác thực không hợp lệ.",
    "The gateway could not tell whether they are valid.": (
        "Cổng không xác định được thông tin có hợp lệ hay không."
    ),
    # developers
    "Event log": "Nhật ký sự kiện",
    "Webhook endpoints": "Endpoint webhook",
    "No webhook endpoint yet.": "Chưa có endpoint webhook.",
    "Events": "Sự kiện",
    "every event": "mọi sự kiện",
    "Rotate secret": "Đổi khóa bí mật",
    "Event filter": "Lọc sự kiện",
    "None ticked: every event.": "Không chọn: mọi sự kiện.",
    "Save filter": "Lưu bộ lọc",
    "Add an endpoint": "Thêm endpoint",
    "Create endpoint": "Tạo endpoint",
    "API keys": "Khóa API",
    "API key": "Khóa API",
    "Key": "Khóa",
    "Mode": "Chế độ",
    "Label": "Nhãn",
    "Created": "Tạo lúc",
    "State": "Trạng thái",
    "revoked": "đã thu hồi",
    "active": "đang dùng",
    "No API key yet.": "Chưa có khóa API.",
    "Role": "Vai trò",
    "standard": "tiêu chuẩn",
    "Last used": "Dùng gần nhất",
    "never": "chưa dùng",
    "expired": "hết hạn",
    "until": "đến",
    "Rotate": "Đổi khóa",
    "Revoke": "Thu hồi",
    "Revoke this key? Requests made with it are refused from now on.": (
        "Thu hồi khóa này? Các yêu cầu dùng nó sẽ bị từ chối từ bây giờ."
    ),
    "Rotate the secret? The old one stops signing deliveries at once.": (
        "Đổi khóa bí mật? Khóa cũ ngừng ký các lần gửi ngay lập tức."
    ),
    "API key revoked:": "Đã thu hồi khóa API:",
    "API key rotated": "Đã đổi khóa API",
    "New API key replacing": "Khóa API mới thay cho",
    "Copy it now: it is shown only once. The old key works until": (
        "Hãy sao chép ngay: khóa chỉ hiện một lần. Khóa cũ còn dùng được đến"
    ),
    "Create API key": "Tạo khóa API",
    "Webhook endpoint created": "Đã tạo endpoint webhook",
    "Secret rotated": "Đã đổi khóa bí mật",
    "API key created": "Đã tạo khóa API",
    "Signing secret of": "Khóa ký của",
    "New signing secret of": "Khóa ký mới của",
    "Copy it now: it is shown only once. Verify every delivery's signature with it.": (
        "Hãy sao chép ngay: khóa chỉ hiện một lần. Dùng nó để kiểm tra chữ ký mỗi lần gửi."
    ),
    "Copy it now: it is shown only once. The old secret no longer signs deliveries.": (
        "Hãy sao chép ngay: khóa chỉ hiện một lần. Khóa cũ không còn ký các lần gửi."
    ),
    "Copy it now: it is shown only once. payhub keeps only its hash.": (
        "Hãy sao chép ngay: khóa chỉ hiện một lần. payhub chỉ giữ mã băm của nó."
    ),
    "Endpoint enabled.": "Đã bật endpoint.",
    "Endpoint disabled.": "Đã tắt endpoint.",
    "Event filter saved.": "Đã lưu bộ lọc sự kiện.",
    "Type": "Loại",
    "every type": "mọi loại",
    "Event": "Sự kiện",
    "Delivered": "Đã gửi",
    "No events.": "Không có sự kiện.",
    "Redeliver": "Gửi lại",
    "Deliveries": "Các lần gửi",
    "Deliveries due again:": "Số lần gửi được xếp lại:",
    "attempts": "số lần thử",
    "Attempted at": "Thử lúc",
    "Result": "Kết quả",
    "Not attempted yet.": "Chưa thử gửi.",
    "No delivery: no endpoint takes this event.": "Không gửi: không endpoint nào nhận sự kiện này.",
    "Payload": "Nội dung",
    "delivered": "đã gửi",
    "pending": "đang chờ",
    "failed": "thất bại",
    # products
    "Low stock:": "Sắp hết hàng:",
    "Price": "Giá",
    "Stock": "Tồn kho",
    "Restock": "Nhập hàng",
    "low": "sắp hết",
    "threshold": "ngưỡng",
    "not tracked": "không theo dõi",
    "Quantity": "Số lượng",
    "No products yet.": "Chưa có sản phẩm.",
    "Add or change a product": "Thêm hoặc sửa sản phẩm",
    "Currency": "Tiền tệ",
    "Track stock": "Theo dõi tồn kho",
    "Low stock threshold": "Ngưỡng sắp hết hàng",
    "Save product": "Lưu sản phẩm",
    "Restocked:": "Đã nhập hàng:",
    "Product saved:": "Đã lưu sản phẩm:",
    # customers
    "id, name, e-mail or phone": "mã, tên, e-mail hoặc số điện thoại",
    "Customer": "Khách hàng",
    "Phone": "Điện thoại",
    "No customers found.": "Không tìm thấy khách hàng.",
    "Credit ledger": "Sổ điểm",
    "Balance": "Số dư",
    "No credit movements.": "Chưa có biến động điểm.",
    "order_paid": "cộng khi thanh toán",
    "order_refunded": "trừ khi hoàn tiền",
    "debit": "sử dụng",
    "adjustment": "điều chỉnh",
    "Kind": "Loại",
    "For": "Cho",
    "Adjust the balance": "Điều chỉnh số dư",
    "Credits to add (negative to take)": "Số điểm cộng (số âm để trừ)",
    "The reason is kept in the ledger and the audit log. A balance never goes below zero.": (
        "Lý do được lưu trong sổ điểm và nhật ký. Số dư không bao giờ xuống dưới 0."
    ),
    "Adjust": "Điều chỉnh",
    "Balance adjusted:": "Đã điều chỉnh số dư:",
    # audit
    "Actor": "Người thực hiện",
    "Action": "Hành động",
    "Object": "Đối tượng",
    "From": "Từ",
    "To": "Đến",
    "Change": "Thay đổi",
    "show": "xem",
    "No entries.": "Không có mục nào.",
    # settings
    "Merchant and checkout branding": "Cửa hàng và nhận diện trang thanh toán",
    "Logo URL": "URL logo",
    "Brand colour": "Màu thương hiệu",
    "Default locale": "Ngôn ngữ mặc định",
    "the customer's browser": "theo trình duyệt của khách",
    "Notifications": "Thông báo",
    "The SMTP password and the Telegram bot token are write-only: leave the field empty to "
    "keep the stored one.": (
        "Mật khẩu SMTP và token bot Telegram chỉ ghi: để trống để giữ giá trị đã lưu."
    ),
    "SMTP host": "Máy chủ SMTP",
    "SMTP port": "Cổng SMTP",
    "SMTP security": "Bảo mật SMTP",
    "SMTP user": "Tài khoản SMTP",
    "SMTP password": "Mật khẩu SMTP",
    "Clear the SMTP password": "Xóa mật khẩu SMTP",
    "Sender address": "Địa chỉ gửi",
    "Sender name": "Tên người gửi",
    "Telegram bot token": "Token bot Telegram",
    "Clear the Telegram bot token": "Xóa token bot Telegram",
    "Telegram chat ids (comma-separated)": "Mã chat Telegram (cách nhau bằng dấu phẩy)",
    "Operator e-mail addresses (comma-separated)": (
        "E-mail người vận hành (cách nhau bằng dấu phẩy)"
    ),
    "E-mail customers (confirmations, failures, refunds)": (
        "Gửi e-mail cho khách (xác nhận, thất bại, hoàn tiền)"
    ),
    "Save notification settings": "Lưu cài đặt thông báo",
    "Send test": "Gửi thử",
    "Test results": "Kết quả gửi thử",
    "Settings saved.": "Đã lưu cài đặt.",
    "Notification settings saved.": "Đã lưu cài đặt thông báo.",
}
