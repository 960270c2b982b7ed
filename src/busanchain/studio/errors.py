"""Why an uploaded photo was refused, in Korean and English.

Every refusal is a `PhotoRejected` (a `ValidationFailed`) with its own code, so the web layer
answers with a clear 4xx and a client can tell the cases apart. `details` never echoes the
uploaded bytes; it carries only sizes, limits and format names.
"""

from __future__ import annotations

from busanchain.domain.errors import ValidationFailed


class PhotoRejected(ValidationFailed):
    """Root of the upload refusals."""

    code = "photo_rejected"
    default_ko = "사진을 받을 수 없습니다."
    default_en = "The photo was not accepted."


class PhotoEmpty(PhotoRejected):
    """Nothing was uploaded."""

    code = "photo_empty"
    default_ko = "빈 파일입니다. 사진 파일을 선택하세요."
    default_en = "The file is empty. Please choose a photo."


class PhotoTooLarge(PhotoRejected):
    """The file is larger than the byte limit (checked before anything is decoded)."""

    status = 413
    code = "photo_too_large"
    default_ko = "사진 파일이 너무 큽니다."
    default_en = "The photo file is too large."


class PhotoTooManyPixels(PhotoRejected):
    """The header declares more pixels than allowed (checked before decoding)."""

    status = 413
    code = "photo_too_many_pixels"
    default_ko = "사진의 해상도가 너무 큽니다."
    default_en = "The photo has too many pixels."


class PhotoUnsupportedFormat(PhotoRejected):
    """The content is not JPEG, PNG, WebP or HEIC/HEIF."""

    status = 415
    code = "photo_unsupported_format"
    default_ko = "지원하지 않는 파일 형식입니다. JPEG, PNG, WebP, HEIC 사진만 올릴 수 있습니다."
    default_en = "Unsupported file type. Only JPEG, PNG, WebP and HEIC photos can be uploaded."


class PhotoExtensionMismatch(PhotoRejected):
    """The file name's extension does not match the content."""

    code = "photo_extension_mismatch"
    default_ko = "파일 확장자가 실제 파일 형식과 다릅니다."
    default_en = "The file extension does not match the file's content."


class PhotoCorrupt(PhotoRejected):
    """The file is truncated or cannot be decoded."""

    code = "photo_corrupt"
    default_ko = "사진 파일이 손상되었거나 일부가 잘렸습니다."
    default_en = "The photo file is damaged or truncated."


class PhotoTrailingData(PhotoRejected):
    """Bytes follow the image's end marker (a polyglot such as JPEG+ZIP or JPEG+HTML)."""

    code = "photo_trailing_data"
    default_ko = "사진 뒤에 다른 데이터가 붙어 있어 받을 수 없습니다."
    default_en = "The file has extra data after the image and was not accepted."


class PhotoAnimated(PhotoRejected):
    """An animation, not a photo."""

    code = "photo_animated"
    default_ko = "움직이는 이미지는 올릴 수 없습니다."
    default_en = "Animated images cannot be uploaded."
