-- uses: _common _permits
-- An acquisition is given up (timeout, cancellation, a call whose outcome is unknown):
-- undo whatever it got (a hold, a hand-off, a place in the queue), and make sure a late
-- repeat of its acquire call gets nothing. Then serve the queue.
-- ARGV[3] ms to remember the abandoned owner
expire_holders()
drop_holder(caller)
leave_queue(caller)
forget_later(caller, tonumber(ARGV[3]))
serve_queue(0)
return 1
