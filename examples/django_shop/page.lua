-- wrk: GET a random page of the shop (10 pages of 20 products).
local pages = 10
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/page/" .. math.random(0, pages - 1) .. "/")
end
