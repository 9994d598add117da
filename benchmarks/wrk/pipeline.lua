-- pipeline.lua: every write wrk makes carries N requests back to back
-- (HTTP pipelining); wrk counts each response. Usage:
--   wrk -t1 -c100 -d5s -s pipeline.lua http://127.0.0.1:7000/ -- 16
init = function(args)
  local n = tonumber(args[1]) or 16
  local r = {}
  for i = 1, n do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
