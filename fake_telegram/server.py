"""The aiohttp application of the fake Telegram and a small runner around it."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from types import TracebackType

from aiohttp import ClientSession, web
from aiohttp.typedefs import Handler

from .account_api import add_account_routes
from .bot_api import handle_bot_api, telegram_error
from .delivery import deliver_updates
from .page import CHAT_PAGE_HTML
from .state import HTTP_SESSION_KEY, STATE_KEY, FakeTelegramState
from .user_api import UserError, add_user_api_routes, user_error_response

log = logging.getLogger(__name__)

USER_API_PREFIX = "/user-api/"


@web.middleware
async def _error_shapes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keep every failure in the shape its caller expects: Telegram's for bots, detail/error_code for users."""
    # Substring checks rather than prefixes, so that the app still answers in shape when mounted
    # under a path prefix as a sub-application.
    user_side = USER_API_PREFIX in request.path
    bot_side = not user_side and "/bot" in request.path
    try:
        return await handler(request)
    except UserError as error:
        return user_error_response(error.status, error.error_code, error.detail)
    except web.HTTPException as error:
        if error.status < 400 or not (user_side or bot_side):
            raise
        if user_side:
            code = error.reason.lower().replace(" ", "_")
            return user_error_response(error.status, code, error.reason)
        return telegram_error(error.status, error.reason)
    except Exception:
        if not (user_side or bot_side):
            raise
        log.exception("fake Telegram failed on %s %s", request.method, request.path)
        if user_side:
            return user_error_response(500, "internal_error", "the fake Telegram hit a bug; see its log")
        return telegram_error(500, "Internal Server Error")


async def _chat_page(request: web.Request) -> web.Response:
    return web.Response(text=CHAT_PAGE_HTML, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _no_favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _webhook_http_session(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    session = ClientSession()
    app[HTTP_SESSION_KEY] = session
    state.delivery_loop = functools.partial(deliver_updates, state, session)
    state.closing = False
    # A restarted server picks up the webhooks its state already had.
    for bot in list(state.bots.values()):
        if bot.webhook is not None:
            await state.restart_delivery(bot)
    try:
        yield
    finally:
        await state.shutdown()
        state.delivery_loop = None
        await session.close()


async def _wake_waiters(app: web.Application) -> None:
    # Runs before aiohttp waits for open requests, so pending long polls answer instead of holding up
    # the shutdown.
    await app[STATE_KEY].shutdown()


def create_fake_telegram_app(state: FakeTelegramState | None = None) -> web.Application:
    """Build the fake Telegram as an aiohttp app, for running alone or mounting beside other apps."""
    app = web.Application(middlewares=[_error_shapes])
    app[STATE_KEY] = state if state is not None else FakeTelegramState()
    app.cleanup_ctx.append(_webhook_http_session)
    app.on_shutdown.append(_wake_waiters)
    app.router.add_get("/", _chat_page)
    app.router.add_get("/favicon.ico", _no_favicon)
    bot_route = "/bot{token}/{method}"
    app.router.add_get(bot_route, handle_bot_api, allow_head=False)
    app.router.add_post(bot_route, handle_bot_api)
    add_user_api_routes(app)
    add_account_routes(app)
    return app


class FakeTelegram:
    """A running fake Telegram server; point aiogram at it with TelegramAPIServer.from_base(base_url)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        retry_initial: float = 0.1,
        retry_max: float = 2.0,
        delivery_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.state = FakeTelegramState(
            retry_initial=retry_initial, retry_max=retry_max, delivery_timeout=delivery_timeout
        )
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("FakeTelegram is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        runner = web.AppRunner(create_fake_telegram_app(self.state), shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound_port = int(address[1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._bound_port = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
