"""Accountability reports: what each agency published, how fast, what failed; the register.

`period` turns week/month/quarter or two dates into UTC bounds (Asia/Ho_Chi_Minh days),
`queries` computes every figure with SQL aggregation, `build` assembles one report, `render`
writes md/html/csv/json, `charts` draws the PNG charts, `register` exports one row per post.
"""
