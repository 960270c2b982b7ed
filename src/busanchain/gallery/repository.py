"""Gallery queries. Repositories never commit: the service's unit of work does.

The studio's photo table is read here (and its owner / publication columns are brought in
line with the chain by `sync_photo`), so that browsing joins one table instead of copying it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from busanchain.gallery.tables import (
    AuctionState,
    GalleryAppeal,
    GalleryAuction,
    GalleryBid,
    GalleryExhibition,
    GalleryExhibitionItem,
    GalleryOrder,
    GallerySale,
    OrderSide,
    OrderState,
)
from busanchain.studio.tables import (
    ContentKind,
    ContentRecord,
    PhotographerRecord,
    PhotoRecord,
    PhotoState,
    StudioRecord,
    Visibility,
)

Row = TypeVar("Row")
PRIVATE_KINDS = (
    ContentKind.ORIGINAL,
    ContentKind.THUMB_320,
    ContentKind.THUMB_1280,
    ContentKind.METADATA,
)


def add(session: Session, row: Row) -> Row:
    """Insert a row and flush it (so its id is known)."""
    session.add(row)
    session.flush()
    return row


def get(session: Session, table: type[Row], row_id: int, lock: bool = False) -> Row | None:
    """A row by primary key (locked for update if asked)."""
    return session.get(table, row_id, with_for_update=lock)


# -- orders ------------------------------------------------------------------------------------


def live_orders_of(session: Session, maker: str) -> Sequence[GalleryOrder]:
    """A maker's open orders (both sides)."""
    query = select(GalleryOrder).where(
        GalleryOrder.maker == maker, GalleryOrder.state == OrderState.OPEN
    )
    return session.scalars(query).all()


def open_orders_of_user(session: Session, user_id: int, limit: int = 100) -> Sequence[GalleryOrder]:
    """A user's orders that are still open or being filled (both sides), newest first."""
    query = select(GalleryOrder).where(
        GalleryOrder.maker_user_id == user_id,
        GalleryOrder.state.in_([OrderState.OPEN, OrderState.FILLING]),
    )
    return session.scalars(query.order_by(GalleryOrder.id.desc()).limit(limit)).all()


def best_listing(session: Session, token_id: int, now: int) -> GalleryOrder | None:
    """The cheapest open, unexpired listing of a token."""
    query = (
        select(GalleryOrder)
        .where(
            GalleryOrder.token_id == token_id,
            GalleryOrder.side == OrderSide.LISTING,
            GalleryOrder.state == OrderState.OPEN,
            GalleryOrder.expiry > now,
        )
        .order_by(GalleryOrder.price, GalleryOrder.id)
        .limit(1)
    )
    return session.scalars(query).first()


def orders_of_token(session: Session, token_id: int, side: int) -> Sequence[GalleryOrder]:
    """Open orders of one side on a token."""
    query = select(GalleryOrder).where(
        GalleryOrder.token_id == token_id,
        GalleryOrder.side == side,
        GalleryOrder.state == OrderState.OPEN,
    )
    return session.scalars(query.order_by(GalleryOrder.id)).all()


def close_orders_of_token(session: Session, token_id: int, maker: str, state: str) -> None:
    """Mark a maker's open listings of a token with `state` (it sold or moved away)."""
    session.execute(
        update(GalleryOrder)
        .where(
            GalleryOrder.token_id == token_id,
            GalleryOrder.maker == maker,
            GalleryOrder.side == OrderSide.LISTING,
            GalleryOrder.state == OrderState.OPEN,
        )
        .values(state=state)
    )


def sales_of_order(session: Session, order_id: int) -> Sequence[GallerySale]:
    """The sale a filled order made (zero or one)."""
    return session.scalars(select(GallerySale).where(GallerySale.order_id == order_id)).all()


def sale_by_ref(session: Session, tx_hash: str, ref: str) -> GallerySale | None:
    """A recorded sale by transaction and reference (to record each sale once)."""
    query = select(GallerySale).where(GallerySale.tx_hash == tx_hash, GallerySale.ref == ref)
    return session.scalars(query).first()


# -- auctions ----------------------------------------------------------------------------------


def live_auction_of_token(session: Session, token_id: int) -> GalleryAuction | None:
    """The live auction of a token, if any."""
    query = select(GalleryAuction).where(
        GalleryAuction.token_id == token_id, GalleryAuction.state == AuctionState.LIVE
    )
    return session.scalars(query).first()


def bids_of(session: Session, auction_id: int) -> Sequence[GalleryBid]:
    """An auction's bids, oldest first."""
    query = select(GalleryBid).where(GalleryBid.auction_id == auction_id)
    return session.scalars(query.order_by(GalleryBid.id)).all()


def sale_of_auction(session: Session, auction_id: int) -> GallerySale | None:
    """The sale an auction settled into, if any."""
    query = select(GallerySale).where(GallerySale.auction_id == auction_id)
    return session.scalars(query).first()


# -- moderation and exhibitions ----------------------------------------------------------------


def appeals(session: Session, limit: int = 200) -> Sequence[GalleryAppeal]:
    """The latest appeals, newest first."""
    query = select(GalleryAppeal).order_by(GalleryAppeal.id.desc()).limit(limit)
    return session.scalars(query).all()


def exhibitions(session: Session, limit: int = 100) -> Sequence[GalleryExhibition]:
    """The latest exhibitions, newest first."""
    query = select(GalleryExhibition).order_by(GalleryExhibition.id.desc()).limit(limit)
    return session.scalars(query).all()


def exhibition_tokens(session: Session, exhibition_id: int) -> list[int]:
    """The token ids of an exhibition, in order."""
    query = (
        select(GalleryExhibitionItem.token_id)
        .where(GalleryExhibitionItem.exhibition_id == exhibition_id)
        .order_by(GalleryExhibitionItem.position)
    )
    return [int(t) for t in session.scalars(query).all()]


# -- the studio's photos -----------------------------------------------------------------------


def photo_of_token(session: Session, token_id: int) -> PhotoRecord | None:
    """The studio photo minted as `token_id`."""
    query = select(PhotoRecord).where(
        PhotoRecord.token_id == token_id, PhotoRecord.state == PhotoState.CLAIMED
    )
    return session.scalars(query).first()


def photos_of_tokens(session: Session, token_ids: list[int]) -> dict[int, PhotoRecord]:
    """The studio photos minted as `token_ids`, by token id (one query)."""
    if not token_ids:
        return {}
    query = select(PhotoRecord).where(
        PhotoRecord.token_id.in_(token_ids), PhotoRecord.state == PhotoState.CLAIMED
    )
    found: dict[int, PhotoRecord] = {}
    for photo in session.scalars(query.order_by(PhotoRecord.id)):
        if photo.token_id is not None:
            found.setdefault(photo.token_id, photo)
    return found


def studios_and_photographers(
    session: Session, photos: Sequence[PhotoRecord]
) -> tuple[dict[int, StudioRecord], dict[int, PhotographerRecord]]:
    """The studios and photographers of some photos, by id (two queries)."""
    studio_ids = {p.studio_id for p in photos}
    people_ids = {p.photographer_id for p in photos if p.photographer_id is not None}
    studios = session.scalars(select(StudioRecord).where(StudioRecord.id.in_(studio_ids)))
    people = session.scalars(
        select(PhotographerRecord).where(PhotographerRecord.id.in_(people_ids))
    )
    return {s.id: s for s in studios}, {p.id: p for p in people}


def best_listings(session: Session, token_ids: list[int], now: int) -> dict[int, GalleryOrder]:
    """The cheapest open, unexpired listing of each token that has one (one query)."""
    if not token_ids:
        return {}
    query = select(GalleryOrder).where(
        GalleryOrder.token_id.in_(token_ids),
        GalleryOrder.side == OrderSide.LISTING,
        GalleryOrder.state == OrderState.OPEN,
        GalleryOrder.expiry > now,
    )
    best: dict[int, GalleryOrder] = {}
    for order in session.scalars(query.order_by(GalleryOrder.price, GalleryOrder.id)):
        best.setdefault(order.token_id, order)
    return best


def studio_of_owner(session: Session, user_id: int) -> StudioRecord | None:
    """The studio a user owns, if any."""
    return session.scalars(
        select(StudioRecord).where(StudioRecord.owner_user_id == user_id)
    ).first()


def studio_and_photographer(
    session: Session, photo: PhotoRecord
) -> tuple[StudioRecord | None, PhotographerRecord | None]:
    """The studio and photographer of a photo."""
    studio = session.get(StudioRecord, photo.studio_id)
    who = session.get(PhotographerRecord, photo.photographer_id) if photo.photographer_id else None
    return studio, who


def sync_photo(session: Session, token_id: int, holder: str, published: bool) -> None:
    """Record a token's holder and publication state (and its content's visibility)."""
    photo = photo_of_token(session, token_id)
    if photo is None:
        return
    photo.owner_address = holder
    if photo.published == published:
        return
    photo.published = published
    visibility = Visibility.PUBLIC if published else Visibility.PRIVATE
    session.execute(
        update(ContentRecord)
        .where(ContentRecord.photo_id == photo.id, ContentRecord.kind.in_(PRIVATE_KINDS))
        .values(visibility=visibility)
    )


def published_photos(
    session: Session, filters: dict[str, Any], after: int | None, limit: int
) -> Sequence[PhotoRecord]:
    """Published, minted photos by token id (keyset paging: ids above `after`)."""
    return session.scalars(published_photos_query(filters, after, limit)).all()


def published_photos_query(filters: dict[str, Any], after: int | None, limit: int) -> Any:
    """The query of `published_photos`: it walks `ix_studio_photos_gallery` in token order
    and stops after `limit` rows (no sort of every published photo)."""
    return _published(select(PhotoRecord), filters, after, limit)


# What a public card shows of a photo, its studio and its photographer.
CARD_COLUMNS = (
    PhotoRecord.id,
    PhotoRecord.token_id,
    PhotoRecord.owner_address,
    PhotoRecord.width,
    PhotoRecord.height,
    PhotoRecord.cid,
    PhotoRecord.metadata_cid,
    PhotoRecord.claimed_at,
    PhotoRecord.studio_id,
    PhotoRecord.photographer_id,
    StudioRecord.name_ko.label("studio_name_ko"),
    StudioRecord.name_en.label("studio_name_en"),
    PhotographerRecord.name.label("photographer_name"),
)


def published_card_rows(
    session: Session, filters: dict[str, Any], after: int | None, limit: int
) -> Sequence[Any]:
    """`published_photos` as plain rows of CARD_COLUMNS, studio and photographer joined in:
    one query, and no ORM objects (building them was most of a browse answer's time)."""
    return session.execute(published_card_rows_query(filters, after, limit)).all()


def published_card_rows_query(filters: dict[str, Any], after: int | None, limit: int) -> Any:
    """The query of `published_card_rows` (the same walk as `published_photos_query`)."""
    query = (
        select(*CARD_COLUMNS)
        .select_from(PhotoRecord)
        .join(StudioRecord, StudioRecord.id == PhotoRecord.studio_id)
        .outerjoin(PhotographerRecord, PhotographerRecord.id == PhotoRecord.photographer_id)
    )
    return _published(query, filters, after, limit)


def _published(query: Any, filters: dict[str, Any], after: int | None, limit: int) -> Any:
    query = query.where(
        PhotoRecord.state == PhotoState.CLAIMED,
        PhotoRecord.published.is_(True),
        PhotoRecord.token_id.is_not(None),
    )
    query = _filtered(query, filters)
    if after is not None:
        query = query.where(PhotoRecord.token_id > after)
    return query.order_by(PhotoRecord.token_id).limit(limit)


def _filtered(query: Any, filters: dict[str, Any]) -> Any:
    if filters.get("studio") is not None:
        query = query.where(PhotoRecord.studio_id == filters["studio"])
    if filters.get("photographer") is not None:
        query = query.where(PhotoRecord.photographer_id == filters["photographer"])
    if filters.get("owner") is not None:
        query = query.where(func.lower(PhotoRecord.owner_address) == filters["owner"].lower())
    if filters.get("from") is not None:
        query = query.where(PhotoRecord.claimed_at >= _as_datetime(filters["from"]))
    if filters.get("to") is not None:
        query = query.where(PhotoRecord.claimed_at < _as_datetime(filters["to"]))
    if filters.get("q"):
        like = f"%{filters['q'].lower()}%"
        studios = select(StudioRecord.id).where(
            or_(
                func.lower(StudioRecord.name_ko).like(like),
                func.lower(StudioRecord.name_en).like(like),
            )
        )
        people = select(PhotographerRecord.id).where(func.lower(PhotographerRecord.name).like(like))
        query = query.where(
            or_(PhotoRecord.studio_id.in_(studios), PhotoRecord.photographer_id.in_(people))
        )
    return query


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())


def created_by(session: Session, address: str, limit: int = 200) -> Sequence[PhotoRecord]:
    """Minted photos created by a studio (signing address) or paying royalties to `address`."""
    studios = select(StudioRecord.id).where(
        func.lower(StudioRecord.signing_address) == address.lower()
    )
    query = select(PhotoRecord).where(
        PhotoRecord.state == PhotoState.CLAIMED,
        or_(
            PhotoRecord.studio_id.in_(studios),
            func.lower(PhotoRecord.royalty_receiver) == address.lower(),
        ),
    )
    return session.scalars(query.order_by(PhotoRecord.token_id).limit(limit)).all()
