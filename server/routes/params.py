"""Parameter types shared by the controllers."""

from typing import Annotated

from litestar.params import Parameter

# Row ids are 32-bit serials on PostgreSQL; anything outside is answered 400, never sent to the driver.
ObjectId = Annotated[int, Parameter(ge=1, le=2_147_483_647)]
