"""The GTP client tests use is the production one: `search_workers.engines.gtp`."""

from search_workers.engines.gtp import (GtpClient, GtpCrash, GtpEngineError, GtpError, GtpFailure,
                                        GtpProtocolError, GtpResponse, GtpTimeout)

__all__ = ["GtpClient", "GtpCrash", "GtpEngineError", "GtpError", "GtpFailure", "GtpProtocolError",
           "GtpResponse", "GtpTimeout"]
