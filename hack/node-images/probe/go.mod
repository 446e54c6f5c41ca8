module ferrosched.dev/probe

go 1.25
